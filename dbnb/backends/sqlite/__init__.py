"""SQLite's home: everything dbnb does differently on SQLite, behind the
``Backend`` interface (``dbnb.engine.backend``).

``guards.py``  read-only enforced by the database, statement_timeout and Ctrl-C
``adbc.py``    columnar reads through ADBC; ``types.py`` the guarded path's types
``bulk.py``    bulk writes
``see.py``     the SQL of plots, profiles and plans (dbnb.see)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import types as sqltypes

from dbnb.backends.generic import close_result, excess_privilege, grouped_counts, mean
from dbnb.backends.sqlite.binds import BIND_RULES as bind_rules
from dbnb.backends.sqlite.guards import (
    install_guards,
    install_limits,
    limit_reached,
    refusal_reason,
)
from dbnb.backends.sqlite.lexical import LEXICAL_RULES as lexical_rules
from dbnb.backends.sqlite.see import (
    comparable,
    epoch_seconds,
    explain_statement,
    histogram_bin,
    most_frequent,
    plan_summary,
    plan_text,
    quartiles,
)
from dbnb.backends.sqlite.statements import READ_RULES as read_rules
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect

    from dbnb.config import ConnectionConfig
    from dbnb.engine.engines import EngineArguments
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked

__all__ = [
    "bind_rules",
    "bulk_writer",
    "close_result",
    "columnar",
    "comparable",
    "declared_kinds",
    "epoch_seconds",
    "excess_privilege",
    "explain_statement",
    "grouped_counts",
    "histogram_bin",
    "install_guards",
    "install_limits",
    "lexical_rules",
    "limit_reached",
    "mean",
    "most_frequent",
    "plan_summary",
    "plan_text",
    "quartiles",
    "read_rules",
    "refusal_reason",
    "result_kinds",
    "stop_statement",
    "write_probe",
]

name = "sqlite"
interrupted: str | None = "aborted by SQLite"  # its progress handler, in this process
# The async driver of async sessions (dbnb.connections.aio), beside the sync one.
async_driver: str | None = "sqlite+aiosqlite"
# What its columns hold: INTEGER 8 bytes, REAL 8, and no NaN (stored as NULL). SQLite
# declares DateTime with and without time zone alike, and reads a DATETIME as UTC: an
# aware timestamp is stored as its UTC time in either.
write_rules = WriteRules("SQLite", keeps_nan=False, utc_timestamps=(sqltypes.DateTime,))


# --- reads and their types ------------------------------------------------------------


def columnar(config: ConnectionConfig) -> Columnar | None:
    """ADBC's SQLite driver with dbnb's extension (``adbc.py``), for SQLite files."""
    from dbnb.backends.sqlite import adbc

    return adbc.SQLiteColumnar(config) if adbc.serves(config) else None


def result_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    return [None] * count  # sqlite3 describes no types: the statement's, then declared


def declared_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    """Each column's declared type, read as a ``select()`` reads it (``types.py``)."""
    from dbnb.backends.sqlite import types

    return list(types.declared_kinds(result, count))


# --- writes ---------------------------------------------------------------------------


def bulk_writer(connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
    """``executemany`` of SQLAlchemy's stored forms, upserts by ON CONFLICT (``bulk.py``)."""
    from dbnb.backends.sqlite import bulk

    return bulk.SQLiteWriter(connection, checked, sent)


def stop_statement(connection: Connection, config: ConnectionConfig) -> None:
    """``sqlite3_interrupt``: the statement ends at its engine's next step (thread-safe)."""
    from dbnb.backends.sqlite import bulk

    bulk.interrupt(connection)


# --- health ---------------------------------------------------------------------------


def server_name(dialect: Dialect) -> str | None:
    return "SQLite"  # as health reports its version


def write_probe(table: str) -> str | None:
    """A write the read-only transaction must refuse: health's proof of the guard."""
    return f"CREATE TEMP TABLE {table} (x INTEGER)"


# --- the engine ---------------------------------------------------------------------------


def engine_arguments(
    arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
) -> EngineArguments:
    """sqlite3's: the file's folder created (read-only files opened read-only by the
    OS); connections used by whichever thread the pool hands them to; an in-memory
    database unpooled and outside the budget (another connection, another database)."""
    from dbnb.backends.sqlite import files

    url = files.sqlite_url(arguments.url, readonly=config.readonly)
    # The pool hands connections to whichever thread asks; sessions never
    # share one between threads at the same time.
    arguments.connect_args.setdefault("check_same_thread", False)
    options, budget = arguments.options, arguments.budget
    if files.is_memory(url):
        # One in-memory database per connection would lose data between
        # sessions; the default pool for it keeps one per thread, sized by nobody.
        for option in ("pool_size", "max_overflow", "pool_timeout"):
            options.pop(option, None)
        budget = None
    return dataclasses.replace(arguments, url=url, options=options, budget=budget)
