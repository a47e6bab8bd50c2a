"""dbnb: databases, pleasant and safe from Jupyter.

import dbnb
db = dbnb.connect("warehouse")
df = db.query("SELECT * FROM orders WHERE region = :region", {"region": "EU"})
"""

from typing import Any

from dbnb.config import Config, ConnectionConfig, load_config, parse_config
from dbnb.database import Database
from dbnb.errors import (
    ConfigError,
    DbnbError,
    ParameterError,
    PoolTimeoutError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyError,
    RowLimitError,
    UnknownConnectionError,
    ValidationError,
    WriteError,
)
from dbnb.health import Health
from dbnb.inspect import describe, tables
from dbnb.interop import sql_engine
from dbnb.monitor import clear_history, history, set_history_size
from dbnb.registry import Registry, close_all, connect

__version__ = "0.1.0"


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext dbnb``: register the ``%db`` magics (IPython is imported only now)."""
    from dbnb.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext dbnb``: remove the ``%db`` magics and close their pools."""
    from dbnb.magics import unload_ipython_extension as unload

    unload(shell)


__all__ = [
    "Config",
    "ConfigError",
    "ConnectionConfig",
    "Database",
    "DbnbError",
    "Health",
    "ParameterError",
    "PoolTimeoutError",
    "QueryError",
    "QueryTimeoutError",
    "ReadOnlyError",
    "Registry",
    "RowLimitError",
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
    "set_history_size",
    "sql_engine",
    "tables",
    "unload_ipython_extension",
]
