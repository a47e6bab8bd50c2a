"""A local PostgreSQL server for development, from the config's ``pgserver:`` block.

    pgserver:
      version: 15               # major version: /usr/lib/postgresql/15/bin, or the image's tag
      name: devdb               # the database created on first start; the container is dbnb-devdb
      port: 5433
      user: dev
      pass: ${DEV_PG_PASSWORD:-dev}
      image: postgres:15        # used where a Docker engine is reachable
      data: ../.pgdata          # the server's files, kept between restarts; relative to this file
      runner: auto              # auto (Docker if reachable, else installed binaries), docker, local

``start()``, ``stop()`` and ``status()`` (``dbnb server start|stop|status``)
run it from the configured image where a Docker engine answers, else from the
machine's own binaries (``initdb``/``pg_ctl`` under ``/usr/lib/postgresql/*/bin``
or on ``$PATH``). PostgreSQL refuses to run as root, so when the caller is
root the local server runs as the ``postgres`` user (``runuser``), which owns
the data folder. A ``databases:`` entry reaches it with the block's host
(127.0.0.1), port, user, password and name as database.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql

from dbnb.config.pgserver import (
    HOST,
    KEYS,
    RUNNERS,
    SECTION,
    PgServerConfig,
    load_pgserver,
    parse_pgserver,
)
from dbnb.errors import ServerError

BIN_ROOTS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")
START_TIMEOUT = 60  # seconds

# The config block is read in pgserver_config; its names belong to this API too.
__all__ = [
    "BIN_ROOTS",
    "HOST",
    "KEYS",
    "RUNNERS",
    "SECTION",
    "START_TIMEOUT",
    "DockerServer",
    "LocalServer",
    "PgServerConfig",
    "Runner",
    "Status",
    "docker_engine",
    "find_binaries",
    "load_pgserver",
    "parse_pgserver",
    "runner",
    "start",
    "status",
    "stop",
]


# --- status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Whether the server runs, which way, and where."""

    running: bool
    runner: str  # "local" or "docker"
    detail: str
    url: str  # password masked

    def __str__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"{state} ({self.runner}: {self.detail}); {self.url}"


class Runner(Protocol):
    kind: str

    def start(self) -> Status: ...
    def stop(self) -> Status: ...
    def status(self) -> Status: ...


def _run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"{Path(args[0]).name} did not finish within {timeout} s") from None
    except OSError as error:
        raise ServerError(f"cannot run {args[0]}: {error.strerror}") from None
    if check and result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise ServerError(
            f"{_command_name(args)} failed: {message[-1] if message else result.returncode}"
        )
    return result


def _command_name(args: Sequence[str]) -> str:
    # Past `runuser -u postgres --`, name the PostgreSQL program itself.
    rest = list(args[args.index("--") + 1 :]) if "--" in args else list(args)
    return " ".join([Path(rest[0]).name, *rest[1:2]])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex((HOST, port)) == 0


def _wait_for_server(config: PgServerConfig, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = psycopg.connect(
                host=HOST,
                port=config.port,
                user=config.user,
                password=config.password or "",
                dbname="postgres",
                connect_timeout=2,
            )
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                reason = " ".join(str(error).split())
                raise ServerError(f"the server did not accept connections: {reason}") from None
            time.sleep(0.2)
            continue
        connection.close()
        return


def _create_database(config: PgServerConfig) -> None:
    """Create the block's ``name`` database once; the server keeps it from then on."""
    with psycopg.connect(
        host=HOST,
        port=config.port,
        user=config.user,
        password=config.password or "",
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config.name])
        if exists.fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config.name)))


# --- installed binaries ------------------------------------------------------------------


def find_binaries(version: str | None, roots: Sequence[str] = BIN_ROOTS) -> Path | None:
    """The folder with initdb and pg_ctl: the configured major version, else the newest."""
    found: dict[str, Path] = {}
    for root in roots:
        for folder in glob.glob(root):
            path = Path(folder)
            if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
                found.setdefault(path.parent.name, path)
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        found.setdefault("PATH", Path(on_path).parent)
    if version is not None:
        if version in found:
            return found[version]
        return None
    numbered = sorted((key for key in found if key.isdigit()), key=int)
    if numbered:
        return found[numbered[-1]]
    return found.get("PATH")


class LocalServer:
    """PostgreSQL from the machine's own binaries, run as an unprivileged user."""

    kind = "local"

    def __init__(self, config: PgServerConfig, bindir: Path) -> None:
        self.config = config
        self.bindir = bindir
        self.data = config.data_folder
        self.log = self.data / "server.log"
        self.owner = _unprivileged_user() if os.geteuid() == 0 else None

    def _command(self, program: str, *args: str) -> list[str]:
        return self._as_owner([str(self.bindir / program), *args])

    def _as_owner(self, command: list[str]) -> list[str]:
        if self.owner is None:
            return command
        if shutil.which("runuser"):
            return ["runuser", "-u", self.owner, "--", *command]
        return [
            "setpriv",
            f"--reuid={self.owner}",
            f"--regid={self.owner}",
            "--init-groups",
            "--",
            *command,
        ]

    def _detail(self) -> str:
        who = f", as {self.owner}" if self.owner else ""
        return f"PostgreSQL from {self.bindir}, port {self.config.port}, data {self.data}{who}"

    def status(self) -> Status:
        if not (self.data / "PG_VERSION").is_file():
            return Status(
                False, self.kind, f"not initialised; {self._detail()}", self.config.safe_url
            )
        result = _run(self._command("pg_ctl", "status", "-D", str(self.data)), check=False)
        return Status(result.returncode == 0, self.kind, self._detail(), self.config.safe_url)

    def start(self) -> Status:
        current = self.status()
        if current.running:
            return current
        if _port_in_use(self.config.port):
            raise ServerError(
                f"port {self.config.port} on {HOST} is taken by another program; "
                f"choose another port in the pgserver: block ({self.config.source or 'config'})"
            )
        if not (self.data / "PG_VERSION").is_file():
            self._initdb()
        options = (
            f"-p {self.config.port} -c listen_addresses={HOST} "
            f"-c unix_socket_directories='{self.data}'"
        )
        try:
            _run(
                self._command(
                    "pg_ctl",
                    "start",
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                )
            )
        except ServerError as error:
            raise ServerError(f"{error}; see {self.log}") from None
        _wait_for_server(self.config)
        _create_database(self.config)
        return self.status()

    def stop(self) -> Status:
        if self.status().running:
            _run(self._command("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data)))
        return self.status()

    def _initdb(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if any(self.data.iterdir()):
            raise ServerError(f"data folder {self.data} is not empty and holds no PostgreSQL data")
        self.data.chmod(0o700)
        owner = pwd.getpwnam(self.owner) if self.owner else None
        if owner is not None:
            os.chown(self.data, owner.pw_uid, owner.pw_gid)
            if _run(self._as_owner(["test", "-w", str(self.data)]), check=False).returncode:
                raise ServerError(
                    f"user {self.owner} cannot reach {self.data} (a parent folder is closed "
                    "to it); choose a data: folder outside private folders such as /root"
                )
        args = ["-D", str(self.data), "-U", self.config.user, "-E", "UTF8", "--locale=C"]
        with tempfile.TemporaryDirectory(prefix="dbnb-initdb-") as scratch:
            if self.config.password:
                # initdb reads the superuser's password from a file only it can read.
                password_file = Path(scratch) / "password"
                password_file.write_text(self.config.password + "\n", encoding="utf-8")
                password_file.chmod(0o600)
                if owner is not None:
                    os.chmod(scratch, 0o711)
                    os.chown(password_file, owner.pw_uid, owner.pw_gid)
                args += [
                    f"--pwfile={password_file}",
                    "--auth-local=trust",  # the socket sits in the data folder, closed to others
                    "--auth-host=scram-sha-256",
                ]
            else:
                args += ["--auth=trust"]
            _run(self._command("initdb", *args))


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServerError("PostgreSQL refuses to run as root, and there is no postgres user to run it")


# --- Docker --------------------------------------------------------------------------------


def docker_engine(timeout: float = 5) -> tuple[bool, str]:
    """Whether a Docker engine answers, and if not, why (one line)."""
    docker = shutil.which("docker")
    if docker is None:
        return False, "no docker command on $PATH"
    try:
        result = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, f"the Docker engine did not answer within {timeout} s"
    if result.returncode != 0 or not result.stdout.strip():
        lines = (result.stderr or "no answer").strip().splitlines()
        return False, f"no Docker engine reachable ({lines[-1] if lines else 'no answer'})"
    return True, f"Docker engine {result.stdout.strip()}"


class DockerServer:
    """PostgreSQL from the configured image, through the ``docker`` command."""

    kind = "docker"

    def __init__(self, config: PgServerConfig) -> None:
        self.config = config
        self.container = f"dbnb-{config.name}"

    def _detail(self) -> str:
        return (
            f"container {self.container} of {self.config.image_name}, port {self.config.port}, "
            f"data {self.config.data_folder}"
        )

    def status(self) -> Status:
        result = _run(
            ["docker", "inspect", "--format", "{{.State.Running}}", self.container], check=False
        )
        running = result.returncode == 0 and result.stdout.strip() == "true"
        return Status(running, self.kind, self._detail(), self.config.safe_url)

    def start(self) -> Status:
        exists = _run(["docker", "inspect", self.container], check=False).returncode == 0
        if exists:
            _run(["docker", "start", self.container])
        else:
            data = self.config.data_folder
            data.mkdir(parents=True, exist_ok=True)
            # The password goes through the environment, never the command line.
            env = {**os.environ, "POSTGRES_USER": self.config.user, "POSTGRES_DB": self.config.name}
            auth = ["-e", "POSTGRES_PASSWORD"]
            if self.config.password:
                env["POSTGRES_PASSWORD"] = self.config.password
            else:
                env["POSTGRES_HOST_AUTH_METHOD"] = "trust"
                auth = ["-e", "POSTGRES_HOST_AUTH_METHOD"]
            _run(
                [
                    "docker",
                    "run",
                    "--detach",
                    "--name",
                    self.container,
                    "--publish",
                    f"{HOST}:{self.config.port}:5432",
                    "--volume",
                    f"{data}:/var/lib/postgresql/data",
                    "-e",
                    "POSTGRES_USER",
                    "-e",
                    "POSTGRES_DB",
                    *auth,
                    self.config.image_name,
                ],
                env=env,
                timeout=600,  # the first run may pull the image
            )
        _wait_for_server(self.config)
        return self.status()

    def stop(self) -> Status:
        if self.status().running:
            _run(["docker", "stop", self.container])
        return self.status()


# --- choosing a way to run it -----------------------------------------------------------------


def runner(config: PgServerConfig, *, bin_roots: Sequence[str] = BIN_ROOTS) -> Runner:
    """Docker where an engine answers (``runner: auto|docker``), else the installed binaries."""
    reason = "runner: local"
    if config.runner in ("auto", "docker"):
        available, reason = docker_engine()
        if available:
            return DockerServer(config)
        if config.runner == "docker":
            raise ServerError(f"runner: docker, but {reason}; start Docker or set runner: auto")
    bindir = find_binaries(config.version, bin_roots)
    if bindir is not None:
        return LocalServer(config, bindir)
    wanted = f"PostgreSQL {config.version} binaries" if config.version else "PostgreSQL binaries"
    raise ServerError(
        f"cannot run a local PostgreSQL: {reason}, and no {wanted} (initdb, pg_ctl) under "
        f"{', '.join(bin_roots)} or on $PATH; install PostgreSQL (apt install postgresql) "
        "or start a Docker engine"
    )


def start(config: PgServerConfig) -> Status:
    """Start the server (initialising its data folder on first use); its status."""
    return runner(config).start()


def stop(config: PgServerConfig) -> Status:
    """Stop the server, keeping its data; its status."""
    return runner(config).stop()


def status(config: PgServerConfig) -> Status:
    """Whether the server runs, which way, and where."""
    return runner(config).status()
