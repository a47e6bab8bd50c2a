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
import importlib.abc
import importlib.util
import sys
from types import ModuleType
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

# Module paths the manual documents from before the front ends had folders of their
# own: ``import dbnb.health``, ``from dbnb.migrate import upgrade`` and ``pytest -p
# dbnb.testing`` give the module that moved, itself (not a copy), imported on first use.
_MOVED = {
    "dbnb.health": "dbnb.connections.health",
    "dbnb.inspect": "dbnb.connections.inspect",
    "dbnb.migrate": "dbnb.devtools.migrate",
    "dbnb.pgserver": "dbnb.devtools.pgserver",
    "dbnb.testing": "dbnb.devtools.testing",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a documented path of ``_MOVED`` and loads the module now there."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: Any) -> ModuleType:
        module = importlib.import_module(_MOVED[spec.name])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system gave the module the alias's spec; it keeps its own.
        assert module.__spec__ is not None
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())

if TYPE_CHECKING:
    from dbnb.config import Config, ConnectionConfig, load_config, parse_config
    from dbnb.connections.database import Database
    from dbnb.connections.facade import Facade
    from dbnb.connections.health import Health
    from dbnb.connections.inspect import describe, tables
    from dbnb.connections.registry import Registry, close_all, connect
    from dbnb.engine.monitor import clear_history, history, set_history_size
    from dbnb.notebook.interop import sql_engine
    from dbnb.read.jobs import Job, jobs
    from dbnb.see.framesql import query_frames

__version__ = "0.1.0"

# The public names imported on first use, and the module each comes from.
_LAZY = {
    "Config": "config",
    "ConnectionConfig": "config",
    "Database": "connections.database",
    "Facade": "connections.facade",
    "Health": "connections.health",
    "Job": "read.jobs",
    "Registry": "connections.registry",
    "clear_history": "engine.monitor",
    "close_all": "connections.registry",
    "connect": "connections.registry",
    "describe": "connections.inspect",
    "history": "engine.monitor",
    "jobs": "read.jobs",
    "load_config": "config",
    "parse_config": "config",
    "query_frames": "see.framesql",
    "set_history_size": "engine.monitor",
    "sql_engine": "notebook.interop",
    "tables": "connections.inspect",
}


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext dbnb``: register the ``%db`` magics (IPython is imported only now)."""
    from dbnb.notebook.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext dbnb``: remove the ``%db`` magics and close their pools."""
    from dbnb.notebook.magics import unload_ipython_extension as unload

    unload(shell)


def _explorers_show_as_grids() -> None:
    """In a Jupyter kernel, an explorer (``db.explore``) displays as the grid
    (``dbnb.notebook.grid``, imported with the first one shown); elsewhere, and beside
    the grid for a notebook with no widget front end, as its first page and count."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; dbnb does not
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return
    formatter = shell.display_formatter.mimebundle_formatter
    formatter.for_type_by_name("dbnb.read.explore", "Explorer", _grid)


def _grid(explorer: Any) -> dict[str, Any]:
    from dbnb.notebook.grid import bundle

    return bundle(explorer)


_explorers_show_as_grids()

if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        """A name of ``__all__``, or a submodule (``dbnb.health``), imported on first use."""
        if name in _LAZY:
            value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        elif f"{__name__}.{name}" in _MOVED or _is_submodule(name):
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
    "Job",
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
    "jobs",
    "load_config",
    "load_ipython_extension",
    "parse_config",
    "query_frames",
    "set_history_size",
    "sql_engine",
    "tables",
    "unload_ipython_extension",
]
