"""What a connection holds: its tables and their columns, as DataFrames.

``dbnb.tables()`` and ``dbnb.describe("orders")`` are the Python side of
``%db tables`` and ``%db describe orders``. Both read the schema through
SQLAlchemy's inspector on a read-only connection, so they never write.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import sqlalchemy
from sqlalchemy import exc

from dbnb.config import Config, ConnectionConfig
from dbnb.database import Database
from dbnb.errors import DbnbError, QueryError
from dbnb.registry import connect


def _database(connection: Database | str | None) -> Database:
    return connection if isinstance(connection, Database) else connect(connection)


def tables(connection: Database | str | None = None, schema: str | None = None) -> pd.DataFrame:
    """The tables and views of a connection (name, URL, or the default), one row each."""
    db = _database(connection)
    rows: list[tuple[str, str]] = []
    with db.connection() as conn:
        try:
            inspector = sqlalchemy.inspect(conn)
            rows += [(name, "table") for name in inspector.get_table_names(schema=schema)]
            rows += [(name, "view") for name in inspector.get_view_names(schema=schema)]
        except exc.DBAPIError as error:
            raise QueryError(f"{db.name}: cannot list tables: {_message(error)}") from None
        finally:
            conn.rollback()
    rows.sort()
    return pd.DataFrame(
        {
            "name": pd.Series([name for name, _ in rows], dtype="string[pyarrow]"),
            "kind": pd.Series([kind for _, kind in rows], dtype="string[pyarrow]"),
        }
    )


def describe(table: str, connection: Database | str | None = None) -> pd.DataFrame:
    """The columns of ``table`` (``schema.table`` works too): type, nullability, default, keys."""
    db = _database(connection)
    schema, _, name = table.rpartition(".")
    with db.connection() as conn:
        try:
            inspector = sqlalchemy.inspect(conn)
            columns = inspector.get_columns(name, schema=schema or None)
            primary = inspector.get_pk_constraint(name, schema=schema or None)
            foreign = inspector.get_foreign_keys(name, schema=schema or None)
        except exc.NoSuchTableError:
            known = ", ".join(inspector.get_table_names(schema=schema or None)) or "none"
            raise DbnbError(f"{db.name}: no table named {table!r} (tables: {known})") from None
        except exc.DBAPIError as error:
            raise QueryError(f"{db.name}: cannot describe {table!r}: {_message(error)}") from None
        finally:
            conn.rollback()
    primary_columns = primary.get("constrained_columns") or []
    references: dict[str, str] = {}
    for key in foreign:
        target = ".".join(filter(None, [key.get("referred_schema"), key["referred_table"]]))
        for mine, theirs in zip(key["constrained_columns"], key["referred_columns"], strict=False):
            references[mine] = f"{target}.{theirs}"
    return pd.DataFrame(
        {
            "column": _strings(column["name"] for column in columns),
            "type": _strings(str(column["type"]) for column in columns),
            "nullable": pd.Series(
                [bool(column["nullable"]) for column in columns], dtype="bool[pyarrow]"
            ),
            "default": _strings(column.get("default") for column in columns),
            "primary_key": pd.Series(
                [column["name"] in primary_columns for column in columns], dtype="bool[pyarrow]"
            ),
            "references": _strings(references.get(column["name"]) for column in columns),
        }
    )


def connections(config: Config, current: str | None) -> pd.DataFrame:
    """One row per configured connection; ``current`` marks the one in use."""
    entries = list(config.connections.values())
    return pd.DataFrame(
        {
            "current": _strings("*" if entry.name == current else "" for entry in entries),
            "connection": _strings(entry.name for entry in entries),
            "type": _strings(entry.backend for entry in entries),
            "url": _strings(_short_url(entry) for entry in entries),
            "readonly": pd.Series([entry.readonly for entry in entries], dtype="bool[pyarrow]"),
        }
    )


def _short_url(entry: ConnectionConfig) -> str:
    """The masked URL; a SQLite file relative to the current folder when that is shorter."""
    database = entry.url.database or ""
    if entry.backend != "sqlite" or not os.path.isabs(database):
        return entry.safe_url
    relative = os.path.relpath(database)
    if len(relative) >= len(database):
        return entry.safe_url
    return entry.url.set(database=relative).render_as_string(hide_password=True)


def _strings(values: Any) -> pd.Series:
    return pd.Series(list(values), dtype="string[pyarrow]")


def _message(error: exc.DBAPIError) -> str:
    return " ".join(str(error.orig).split()) or type(error.orig).__name__
