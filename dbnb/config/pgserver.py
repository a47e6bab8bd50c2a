"""The ``pgserver:`` block of a config file: a local development server's settings.

Read like the ``databases:`` entries (``${VAR}`` references, paths relative to
the file, errors naming file, line and key); ``dbnb.devtools.pgserver`` runs the server.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy.engine import URL

from dbnb.config import find_config_file
from dbnb.config.values import (
    BadValue,
    as_int,
    as_text,
    expand_env,
    line_of,
    read_config_text,
    read_yaml,
)
from dbnb.errors import ConfigError

SECTION = "pgserver"
RUNNERS = ("auto", "docker", "local")
HOST = "127.0.0.1"  # the server listens on this machine only


@dataclass(frozen=True)
class PgServerConfig:
    """The ``pgserver:`` block: which PostgreSQL to run, where, and for whom."""

    name: str = "dbnb"
    port: int = 5433
    user: str = "postgres"
    password: str | None = field(default=None, repr=False)
    version: str | None = None
    image: str | None = None
    data: Path | None = None
    runner: str = "auto"
    source: str | None = None  # "etc/infra.yaml:40"

    @property
    def image_name(self) -> str:
        return self.image or f"postgres:{self.version or 'latest'}"

    @property
    def data_folder(self) -> Path:
        if self.data is not None:
            return self.data
        # root's home is closed to the postgres user the server runs as.
        base = Path("/var/lib/dbnb") if os.geteuid() == 0 else platformdirs.user_data_path("dbnb")
        return base / "pgserver" / self.name

    @property
    def url(self) -> URL:
        """Where the server's database is, as a ``databases:`` entry would say it."""
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=HOST,
            port=self.port,
            database=self.name,
        )

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)


# --- the config block --------------------------------------------------------------------


def _as_version(value: Any) -> str:
    text = as_text(value)
    if not text.split(".")[0].isdigit():
        raise BadValue(f"expected a major version such as 15, got {text!r}")
    return text.split(".")[0]


def _as_runner(value: Any) -> str:
    text = as_text(value).lower()
    if text not in RUNNERS:
        raise BadValue(f"expected one of {', '.join(RUNNERS)}, got {text!r}")
    return text


def _as_name(value: Any) -> str:
    text = as_text(value)
    if not text.replace("_", "").replace("-", "").isalnum():
        raise BadValue(f"expected letters, digits, - and _, got {text!r}")
    return text


# Every key of the block, the PgServerConfig field it sets, and how it is read.
KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "version": ("version", _as_version),
    "name": ("name", _as_name),
    "port": ("port", as_int),
    "user": ("user", as_text),
    "pass": ("password", as_text),
    "password": ("password", as_text),
    "image": ("image", as_text),
    "data": ("data", as_text),
    "runner": ("runner", _as_runner),
}


def parse_pgserver(
    text: str, *, environ: Mapping[str, str] | None = None, path: Path | str | None = None
) -> PgServerConfig | None:
    """The ``pgserver:`` block of a config file's text, or None if it has none."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path is not None else None
    document = read_yaml(text, path=path)
    if not isinstance(document, dict) or document.get(SECTION) is None:
        return None
    block = document[SECTION]
    if not isinstance(block, dict):
        raise ConfigError(
            "expected a mapping of settings (version, name, port, user, pass, image, data)",
            path=path,
            line=line_of(document, SECTION),
            key=SECTION,
        )
    values: dict[str, Any] = {}
    for key, raw in block.items():
        key = str(key)

        def fail(message: str, key: str = key) -> ConfigError:
            return ConfigError(message, path=path, line=line_of(block, key), key=f"{SECTION}.{key}")

        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(KEYS)}"
            raise fail(f"unknown key; {hint}")
        attribute, reader = KEYS[key]
        try:
            value = expand_env(raw, environ) if isinstance(raw, str) else raw
            if value is not None and value != "":
                values[attribute] = reader(value)
        except BadValue as problem:
            raise fail(str(problem)) from None
    if "data" in values:
        base = path.parent if path is not None else Path.cwd()
        values["data"] = (base / Path(values["data"]).expanduser()).resolve()
    line = line_of(document, SECTION)
    return PgServerConfig(**values, source=f"{path}:{line}" if path and line else None)


def load_pgserver(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> PgServerConfig:
    """The ``pgserver:`` block of the config file found by dbnb's usual lookup order."""
    found = Path(path).expanduser() if path is not None else find_config_file(environ)
    if found is None:
        raise ConfigError(
            "no config file with a pgserver: block; create etc/infra.yaml or set $DBNB_CONFIG"
        )
    try:
        text = read_config_text(found)
    except OSError as error:
        raise ConfigError(f"cannot read config: {error.strerror}", path=found) from None
    config = parse_pgserver(text, environ=environ, path=found)
    if config is None:
        raise ConfigError(
            "no pgserver: block; add one (version, name, port, user, pass, image, data)",
            path=found,
        )
    return config
