"""What a connection holds: its tables and their columns, as DataFrames.

``dbnb.tables()`` and ``dbnb.describe("orders")`` are the Python side of
``%db tables`` and ``%db describe orders``. Both read the schema through
SQLAlchemy's inspector on a read-only connection, so they never write.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy
from sqlalchemy import exc

from dbnb.database import Database
from dbnb.errors import DbnbError, QueryError
from dbnb.registry import connect


def _database(connection: Database | str | None) -> Database:
    return connection if isinstance(connection, Database) else connect(connection)


def tables(connection: Database | str | None = None, schema: str | None = None) -> pd.DataFrame:
    """The tables and views of a connection (a ``Database``, a name, or the default).

    Columns: ``schema``, ``table``, ``kind`` (``table`` or ``view``), sorted by name.
    """
    db = _database(connection)
    found: list[tuple[str, str]] = []
    with db.connection() as conn:
        try:
            inspector = sqlalchemy.inspect(conn)
            found += [(name, "table") for name in inspector.get_table_names(schema=schema)]
            found += [(name, "view") for name in inspector.get_view_names(schema=schema)]
            shown_schema = schema or inspector.default_schema_name
        except exc.DBAPIError as error:
            raise QueryError(f"{db.name}: cannot list tables: {_message(error)}") from None
        finally:
            conn.rollback()
    rows = [(shown_schema, name, kind) for name, kind in sorted(found)]
    return pd.DataFrame(rows, columns=["schema", "table", "kind"]).astype("string")


def describe(
    connection: Database | str | None, table: str, schema: str | None = None
) -> pd.DataFrame:
    """The columns of ``table`` (``schema.table`` works too), in their order.

    Columns: ``column``, ``type``, ``nullable``, ``default`` (the server
    default's SQL), ``primary_key``, ``references`` (``table.column`` of a
    foreign key).
    """
    db = _database(connection)
    if schema is None:
        schema, _, name = table.rpartition(".")
    else:
        name = table
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


def _strings(values: Any) -> pd.Series:
    return pd.Series(list(values), dtype="string[pyarrow]")


def _message(error: exc.DBAPIError) -> str:
    return " ".join(str(error.orig).split()) or type(error.orig).__name__
