"""dbnb: databases, pleasant and safe from Jupyter.

import dbnb
db = dbnb.connect("warehouse")
df = db.query("SELECT * FROM orders WHERE region = :region", {"region": "EU"})
"""

from dbnb.config import Config, ConnectionConfig, load_config, parse_config
from dbnb.database import Database
from dbnb.errors import (
    ConfigError,
    DbnbError,
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
from dbnb.monitor import clear_history, history, set_history_size
from dbnb.registry import Registry, close_all, connect

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "ConnectionConfig",
    "Database",
    "DbnbError",
    "Health",
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
    "history",
    "load_config",
    "parse_config",
    "set_history_size",
]
