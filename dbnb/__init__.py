"""dbnb: databases, pleasant and safe from Jupyter.

import dbnb
db = dbnb.connect("warehouse")
df = db.query("SELECT * FROM orders WHERE region = :region", {"region": "EU"})

``import dbnb`` loads only the error classes: every other name of ``__all__``
(and every submodule, ``dbnb.health``, ``dbnb.inspect``, ...) is imported on
first use (PEP 562), so pandas, SQLAlchemy, pyarrow and IPython load when a
connection is made, not when a notebook or the ``dbnb`` command starts.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from dbnb.errors import (
    ConfigError,
    ConnectError,
    DbnbError,
    MigrationError,
    OptionError,
    ParameterError,
    PoolTimeoutError,
    PrivilegeWarning,
    QueryError,
    QueryTimeoutError,
    ReadOnlyError,
    RowLimitError,
    ServerError,
    UnknownConnectionError,
    ValidationError,
    WriteError,
)

if TYPE_CHECKING:
    from dbnb.config import Config, ConnectionConfig, load_config, parse_config
    from dbnb.database import Database
    from dbnb.facade import Facade
    from dbnb.framesql import query_frames
    from dbnb.health import Health
    from dbnb.inspect import describe, tables
    from dbnb.interop import sql_engine
    from dbnb.monitor import clear_history, history, set_history_size
    from dbnb.registry import Registry, close_all, connect

__version__ = "0.1.0"

# The public names imported on first use, and the module each comes from.
_LAZY = {
    "Config": "config",
    "ConnectionConfig": "config",
    "Database": "database",
    "Facade": "facade",
    "Health": "health",
    "Registry": "registry",
    "clear_history": "monitor",
    "close_all": "registry",
    "connect": "registry",
    "describe": "inspect",
    "history": "monitor",
    "load_config": "config",
    "parse_config": "config",
    "query_frames": "framesql",
    "set_history_size": "monitor",
    "sql_engine": "interop",
    "tables": "inspect",
}


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext dbnb``: register the ``%db`` magics (IPython is imported only now)."""
    from dbnb.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext dbnb``: remove the ``%db`` magics and close their pools."""
    from dbnb.magics import unload_ipython_extension as unload

    unload(shell)


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        """A name of ``__all__``, or a submodule (``dbnb.health``), imported on first use."""
        if name in _LAZY:
            value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        elif _is_submodule(name):
            value = importlib.import_module(f"{__name__}.{name}")
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # the next access is a plain attribute lookup
        return value

    def _is_submodule(name: str) -> bool:
        if not name.isidentifier() or name.startswith("__"):
            return False
        return importlib.util.find_spec(f"{__name__}.{name}") is not None

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


__all__ = [
    "Config",
    "ConfigError",
    "ConnectError",
    "ConnectionConfig",
    "Database",
    "DbnbError",
    "Facade",
    "Health",
    "MigrationError",
    "OptionError",
    "ParameterError",
    "PoolTimeoutError",
    "PrivilegeWarning",
    "QueryError",
    "QueryTimeoutError",
    "ReadOnlyError",
    "Registry",
    "RowLimitError",
    "ServerError",
    "UnknownConnectionError",
    "ValidationError",
    "WriteError",
    "clear_history",
    "close_all",
    "connect",
    "describe",
    "history",
    "load_config",
    "load_ipython_extension",
    "parse_config",
    "query_frames",
    "set_history_size",
    "sql_engine",
    "tables",
    "unload_ipython_extension",
]
