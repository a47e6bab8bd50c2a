"""Secrets by reference: a password never has to stand in the YAML.

- ``${keyring:SERVICE/USER}`` and ``${keyring}`` (service ``dbnb``, username the
  connection's name) read the system keyring (the ``keyring`` package, the
  ``dbnb[keyring]`` extra); ``dbnb secret set NAME`` (``store``) writes it.
- ``${file:PATH}`` reads a file (Docker and Kubernetes secrets), trailing
  newline dropped; a relative path is relative to the config file.
- ``password_command:`` (``PasswordCommand``) runs a program, no shell, for each
  new server connection, so a rotating token (a cloud IAM token, a Vault lease)
  is fresh each time; its output is never logged.
- ``option_files:`` (MariaDB/MySQL) reads ``~/.my.cnf``-style files.

Every secret read here is remembered by ``dbnb.config.masking``, which masks it
wherever dbnb shows text. ``plain_text`` finds the passwords that do stand in a
config file, for the nudge of ``dbnb list`` and ``%db``.
"""

from __future__ import annotations

import configparser
import shlex
import stat
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dbnb.config import masking
from dbnb.config.values import BadValue
from dbnb.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

KEYRING_SERVICE = "dbnb"  # ``${keyring}`` and ``dbnb secret set``: (dbnb, connection name)
COMMAND_TIMEOUT = 10.0  # seconds a password_command may take
MAX_FILE_BYTES = 64 << 10  # a password file is a line; anything this big is a mistake
_INSTALL_KEYRING = "the keyring package is not installed: pip install 'dbnb[keyring]'"


# --- ${keyring...} and ${file:...} ----------------------------------------------------


class References:
    """What the ``${keyring...}`` and ``${file:...}`` of one entry read
    (``dbnb.config.values.expand_env``'s ``secret``); each secret found is kept in
    ``found`` and remembered for masking."""

    def __init__(self, connection: str, base: Path) -> None:
        self.connection = connection
        self.base = base
        self.found: list[str] = []

    def __call__(self, kind: str, argument: str | None) -> str:
        if kind == "keyring":
            service, user = keyring_entry(argument, self.connection)
            value = read_keyring(service, user)
        else:
            value = read_file(argument, self.base)
        if value:
            self.found.append(value)
            masking.remember(value)
        return value


def keyring_entry(argument: str | None, connection: str) -> tuple[str, str]:
    """(service, username) of ``${keyring}`` (``argument`` None) or ``${keyring:S/U}``."""
    if argument is None:
        return KEYRING_SERVICE, connection
    service, slash, user = argument.partition("/")
    if not (service and slash and user):
        raise BadValue(
            f"${{keyring:{argument}}} names no entry; write ${{keyring:SERVICE/USER}}, "
            f"or ${{keyring}} for ({KEYRING_SERVICE}, {connection})"
        )
    return service, user


def _keyring() -> Any:
    try:
        import keyring
    except ImportError:
        raise BadValue(_INSTALL_KEYRING) from None
    return keyring


def read_keyring(service: str, user: str) -> str:
    keyring = _keyring()
    try:
        value = keyring.get_password(service, user)
    except keyring.errors.KeyringError as error:
        raise BadValue(f"the keyring cannot be read: {error}") from None
    if value is None:
        how = (
            f"dbnb secret set {user}"
            if service == KEYRING_SERVICE
            else f"keyring set {service} {user}"
        )
        raise BadValue(f"no password in the keyring for ({service}, {user}); set it: {how}")
    return str(value)


def store(name: str, password: str) -> None:
    """Keep ``password`` in the keyring as ``${keyring}`` of connection ``name`` reads it."""
    keyring = _keyring_for_command()
    if not password:
        raise ConfigError("no password given; nothing stored", connection=name)
    try:
        keyring.set_password(KEYRING_SERVICE, name, password)
    except keyring.errors.KeyringError as error:
        raise ConfigError(f"the keyring refused it: {error}", connection=name) from None


def store_asked(name: str, ask: Callable[[str], str]) -> str:
    """Ask for connection ``name``'s password (``ask``: ``getpass`` or a pipe's line),
    store it (``store``), and say where it went."""
    password = ask(f"password of {name!r} (not shown): ")
    masking.remember(password)  # from here on, whatever dbnb shows masks it
    store(name, password)
    return (
        f"{name}: password stored in the keyring ({KEYRING_SERVICE}, {name}); "
        "its entry reads it with `password: ${keyring}`"
    )


def delete(name: str) -> bool:
    """Forget connection ``name``'s password in the keyring; whether there was one."""
    keyring = _keyring_for_command()
    try:
        keyring.delete_password(KEYRING_SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        return False
    except keyring.errors.KeyringError as error:
        raise ConfigError(f"the keyring refused it: {error}", connection=name) from None
    return True


def _keyring_for_command() -> Any:
    try:
        return _keyring()
    except BadValue as problem:
        raise ConfigError(str(problem)) from None


def read_file(argument: str | None, base: Path) -> str:
    """``${file:PATH}``: the file's text, one trailing newline dropped."""
    if not argument:
        raise BadValue("${file} names no file; write ${file:PATH}")
    path = base / Path(argument).expanduser()
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise BadValue(f"cannot read {path} (${{file:{argument}}}): {error.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadValue(f"{path} is over {MAX_FILE_BYTES // 1024} KiB; a secret file holds a line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadValue(f"{path} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")


# --- password_command -----------------------------------------------------------------


def as_command(value: Any) -> tuple[str, ...]:
    """``password_command:``'s value: a string split as a shell would (nothing else of a
    shell: no pipes, no variables), or a list of arguments."""
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as error:
            raise BadValue(f"cannot split the command: {error}") from None
    elif isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        argv = [str(item) for item in value]
    else:
        raise BadValue(f"expected a command (text or a list), got {type(value).__name__}")
    if not argv:
        raise BadValue("expected a command, got nothing")
    return tuple(argv)


@dataclass(frozen=True)
class PasswordCommand:
    """A program whose output is a connection's password, run for each new connection."""

    argv: tuple[str, ...]
    connection: str
    base: Path  # where it runs: the config file's folder

    def run(self) -> str:
        """The password, fresh; a ``ConfigError`` of one line if the program fails."""
        program = self.argv[0]
        try:
            done = subprocess.run(
                self.argv,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=COMMAND_TIMEOUT,
                cwd=self.base if self.base.is_dir() else None,
                check=False,
            )
        except FileNotFoundError:
            raise self._failed(f"{program!r} not found; is it installed and on PATH?") from None
        except PermissionError:
            raise self._failed(f"{program!r} cannot be run (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise self._failed(
                f"{program!r} gave no password within {COMMAND_TIMEOUT:g} s"
            ) from None
        password = done.stdout.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
        if password:
            masking.remember(password, rotating=True)
        if done.returncode != 0:
            said = _last_line(done.stderr.decode("utf-8", "replace"))
            reason = f"{program!r} exited with status {done.returncode}"
            raise self._failed(f"{reason}: {masking.mask_secrets(said, ())}" if said else reason)
        if not password:
            raise self._failed(f"{program!r} printed no password")
        return password

    def _failed(self, reason: str) -> ConfigError:
        return ConfigError(
            f"password_command failed: {reason}", connection=self.connection, key="password_command"
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


class _Entry(Protocol):
    """What ``password`` reads of a connection's entry (``dbnb.config.ConnectionConfig``)."""

    @property
    def password_command(self) -> PasswordCommand | None: ...

    @property
    def url(self) -> URL: ...


def password(config: _Entry) -> str | None:
    """The password of a new server connection of ``config``: its command's output, run
    now, or the one in its URL."""
    if config.password_command is not None:
        return config.password_command.run()
    return config.url.password


# --- option files (MariaDB/MySQL) -------------------------------------------------------

# The [client] group, as every MariaDB/MySQL client reads it, then MariaDB's own.
_OPTION_GROUPS = ("client", "client-mariadb")
# Option names and the entry's keys they fill.
_OPTIONS = {"user": "user", "password": "password", "host": "host", "port": "port"}
_OPTIONS |= {"database": "database"}


def as_paths(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise BadValue(f"expected a file or a list of files, got {type(value).__name__}")


def read_option_files(paths: Sequence[str], base: Path) -> dict[str, str]:
    """The settings of MariaDB/MySQL option files (``~/.my.cnf``), later files winning;
    a password found is remembered for masking."""
    found: dict[str, str] = {}
    for given in paths:
        path = base / Path(given).expanduser()
        parser = configparser.ConfigParser(allow_no_value=True, interpolation=None, strict=False)
        try:
            with path.open(encoding="utf-8") as file:
                parser.read_file(file)
        except OSError as error:
            raise BadValue(f"cannot read option file {path}: {error.strerror}") from None
        except (configparser.Error, UnicodeDecodeError) as error:
            raise BadValue(f"option file {path} cannot be read: {type(error).__name__}") from None
        for group in _OPTION_GROUPS:
            if parser.has_section(group):
                for option, key in _OPTIONS.items():
                    value = parser.get(group, option, fallback=None)
                    if value is not None:
                        found[key] = _unquoted(value)
    if found.get("password"):
        masking.remember(found["password"])
    return found


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- the nudge ---------------------------------------------------------------------------


def plain_text(name: str, entry: Mapping[str, Any], line: int | None, where: str) -> str | None:
    """A note if ``entry`` holds a password in plain text (no reference), else None."""
    for key in ("password", "token", "url"):
        raw = entry.get(key)
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            continue
        text = str(raw)
        if "${" in text:
            continue
        if key == "url" and not _url_has_password(text):
            continue
        at = getattr(entry, "lines", {}).get(key, line)
        place = f"{where}:{at}" if at else where
        return (
            f"{place}: connection {name!r} has a password in plain text; keep it out of the "
            f"file: `dbnb secret set {name}` and `password: ${{keyring}}`, or ${{file:PATH}}, "
            "${ENV_VAR}, password_command:"
        )
    return None


def _url_has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return bool(make_url(url).password)
    except Exception:  # a bad url is reported as such elsewhere
        return False


def readable_by_others(path: Path) -> str | None:
    """A note if the config file ``path`` can be read by users other than its owner."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    return (
        f"{path} holds a password and others can read it (mode {stat.S_IMODE(mode):o}); "
        f"chmod 600 {path}, or keep the password out of it"
    )


_SHOWN: set[str] = set()  # the nudges shown in this process: each once


def unseen(notes: Sequence[str]) -> list[str]:
    """The notes not shown yet in this process; they count as shown from now on."""
    fresh = [note for note in notes if note not in _SHOWN]
    _SHOWN.update(fresh)
    return fresh
