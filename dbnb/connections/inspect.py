"""What a connection holds: its tables, and a table's columns, as DataFrames.

Both read through a read-only connection with SQLAlchemy's ``inspect``, so
they work the same on every database SQLAlchemy knows. They are the Python
side of ``%db tables`` / ``%db describe TABLE`` and of ``dbnb tables`` /
``dbnb describe``: ``dbnb.tables("warehouse")``, ``dbnb.describe(db, "orders")``.
"""

from __future__ import annotations

import difflib
import re
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy
from sqlalchemy import exc
from sqlalchemy.engine import Dialect

from dbnb.connections.facade import DESCRIBE_COLUMNS, TABLE_COLUMNS
from dbnb.errors import DbnbError, QueryError, one_line

if TYPE_CHECKING:
    from dbnb.connections.facade import Facade


def _database(db: Facade | str | None) -> Facade:
    """A ``Database`` as given, or the one ``dbnb.connect`` gives for a name (None: default)."""
    from dbnb.connections.facade import Facade
    from dbnb.connections.registry import connect

    return db if isinstance(db, Facade) else connect(db)


def tables(db: Facade | str | None = None, schema: str | None = None) -> pd.DataFrame:
    """The tables and views of ``schema`` (default: the connection's default schema).

    ``db`` is a ``Database``, a connection name, or None for the default one.
    Columns: ``schema``, ``table``, ``kind`` (``table`` or ``view``), sorted by name.
    """
    db = _database(db)
    catalog = db.catalog()  # a database's own listing (Spark's), else SQLAlchemy's inspector
    if catalog is not None:
        return catalog.tables(schema)
    with db.connection() as connection:
        inspector = _inspector(db, connection)
        try:
            found = [(name, "table") for name in inspector.get_table_names(schema=schema)]
            found += [(name, "view") for name in inspector.get_view_names(schema=schema)]
            shown_schema = schema or inspector.default_schema_name
        except exc.SQLAlchemyError as error:
            raise QueryError(f"{db.name}: cannot list tables: {one_line(error)}") from None
    rows = [(shown_schema, name, kind) for name, kind in sorted(found)]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS).astype("string")


def describe(db: Facade | str | None, table: str, schema: str | None = None) -> pd.DataFrame:
    """The columns of ``table`` (``schema.table`` works too), in their order.

    Columns: ``column``, ``type`` (as the database spells it), ``nullable``,
    ``default`` (the server default's SQL, or None), ``primary_key``,
    ``references`` (``table.column`` a foreign key points to, or None).
    """
    db = _database(db)
    catalog = db.catalog()
    if catalog is not None:
        return catalog.describe(table, schema)
    with db.connection() as connection:
        inspector = _inspector(db, connection)
        try:
            schema, table = _locate(db, inspector, table, schema)
            with warnings.catch_warnings(record=True) as unknown:
                # A type SQLAlchemy does not know (xid, aclitem...) comes back as
                # NullType with a warning that names it: show that name instead.
                warnings.simplefilter("always", exc.SAWarning)
                columns = inspector.get_columns(table, schema=schema)
            unknown_types = _unknown_types(unknown)
            primary_key = set(
                inspector.get_pk_constraint(table, schema=schema).get("constrained_columns") or ()
            )
            references = _references(inspector.get_foreign_keys(table, schema=schema))
        except exc.SQLAlchemyError as error:
            raise QueryError(f"{db.name}: cannot describe {table!r}: {one_line(error)}") from None
    rows = [
        (
            column["name"],
            unknown_types.get(column["name"]) or _type_name(column["type"], connection.dialect),
            bool(column.get("nullable", True)),
            None if column.get("default") is None else str(column["default"]),
            column["name"] in primary_key,
            references.get(column["name"]),
        )
        for column in columns
    ]
    frame = pd.DataFrame(rows, columns=DESCRIBE_COLUMNS)
    return frame.astype(
        {
            "column": "string",
            "type": "string",
            "nullable": "bool",
            "default": "string",
            "references": "string",
        }
    ).astype({"primary_key": "bool"})


def _references(foreign_keys: list[Any]) -> dict[str, str]:
    """Column -> ``table.column`` (``schema.table.column`` across schemas) it refers to."""
    found = {}
    for key in foreign_keys:
        target = ".".join(filter(None, [key.get("referred_schema"), key["referred_table"]]))
        pairs = zip(key["constrained_columns"], key["referred_columns"], strict=False)
        found.update({mine: f"{target}.{theirs}" for mine, theirs in pairs})
    return found


def _inspector(db: Facade, connection: sqlalchemy.Connection) -> sqlalchemy.Inspector:
    try:
        return sqlalchemy.inspect(connection)
    except exc.SQLAlchemyError as error:
        raise DbnbError(f"{db.name}: cannot inspect: {one_line(error)}") from None


def _locate(
    db: Facade, inspector: sqlalchemy.Inspector, table: str, schema: str | None
) -> tuple[str | None, str]:
    """The schema and name of ``table``; ``schema.table`` is split when no table has the dots."""
    if inspector.has_table(table, schema=schema):
        return schema, table
    if schema is None and "." in table:
        head, _, tail = table.partition(".")
        if inspector.has_table(tail, schema=head):
            return head, tail
    known = inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
    if table in known:  # a view: has_table() does not see views everywhere
        return schema, table
    close = difflib.get_close_matches(table, known, n=3)
    if close:
        hint = f"did you mean {', '.join(close)}?"
    elif known:
        hint = f"tables: {', '.join(sorted(known))}"
    else:
        hint = "it has no tables"
    raise QueryError(f"{db.name}: no table {table!r}; {hint}")


_UNKNOWN_TYPE = re.compile(
    r"Did not recognize type '(?P<type>[^']+)' of column '(?P<column>[^']+)'"
)


def _unknown_types(caught: list[warnings.WarningMessage]) -> dict[str, str]:
    """Column -> type name, from SQLAlchemy's warnings about types it does not know."""
    found = {}
    for warning in caught:
        match = _UNKNOWN_TYPE.search(str(warning.message))
        if match:
            found[match["column"]] = match["type"]
        else:  # not ours to swallow
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return found


def _type_name(kind: Any, dialect: Dialect) -> str:
    try:
        return str(kind.compile(dialect=dialect))
    except exc.CompileError:  # NullType: a SQLite column declared without a type
        return "" if isinstance(kind, sqlalchemy.types.NullType) else str(kind)
