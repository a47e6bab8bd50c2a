"""The registry of named connections, and ``dbnb.connect``."""

from __future__ import annotations

import threading
from pathlib import Path

from dbnb.backends.registry import backend_for
from dbnb.config import Config, ConnectionConfig, load_config, url_connection
from dbnb.connections.database import Database
from dbnb.connections.facade import Facade


def _looks_like_url(name: str) -> bool:
    return "://" in name or name.startswith("sqlite:")


class Registry:
    """Owns one ``Database`` (and so one pool) per connection name or URL (or, for a
    database reached without SQLAlchemy, its backend's facade: ``dbnb.connections.facade``).

    ``Registry(config)`` for an explicit config; ``Registry()`` loads the
    config by the documented lookup order on first use.
    """

    def __init__(self, config: Config | Path | str | None = None) -> None:
        self._source = config
        self._config = config if isinstance(config, Config) else None
        self._databases: dict[str, Facade] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Registry {self.names}>"

    @property
    def config(self) -> Config:
        if self._config is None:
            source = self._source if not isinstance(self._source, Config) else None
            self._config = load_config(source)
        return self._config

    @property
    def names(self) -> list[str]:
        """The configured connection names, in the config's order."""
        return self.config.names

    @property
    def default(self) -> str | None:
        return self.config.default

    def connect(self, name_or_url: str | None = None) -> Facade:
        """The ``Database`` for a configured name, a URL, or (None) the default.

        A broken entry (a missing variable, a bad key) raises its ``ConfigError`` here.
        """
        connection = self.connection(name_or_url)
        key = connection.name
        if name_or_url is not None and _looks_like_url(name_or_url):
            key = name_or_url  # its Database is named by the URL with the password masked
        with self._lock:
            if key not in self._databases:
                # Its backend, resolved once; a database reached without SQLAlchemy
                # (Spark) opens a facade of its own.
                backend = backend_for(connection.backend)
                self._databases[key] = backend.open(connection) or Database(connection, backend)
            return self._databases[key]

    def connection(self, name_or_url: str | None = None) -> ConnectionConfig:
        """What ``connect`` would open for a name, a URL or (None) the default, opening
        nothing: no pool, no driver import (completion asks it on every Tab)."""
        if name_or_url is not None and _looks_like_url(name_or_url):
            return url_connection(None, name_or_url)
        return self.config.get(name_or_url)

    def close(self) -> None:
        """Close every pool this registry opened. Idempotent."""
        with self._lock:
            databases, self._databases = list(self._databases.values()), {}
        for database in databases:
            database.close()


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry behind ``dbnb.connect``."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def connect(name_or_url: str | None = None) -> Facade:
    """A named connection from the config, a database URL, or (no argument) the default."""
    return default_registry().connect(name_or_url)


def close_all() -> None:
    """Close every pool ``dbnb.connect`` opened; the config is read afresh next time."""
    global _default
    with _default_lock:
        registry, _default = _default, None
    if registry is not None:
        registry.close()
