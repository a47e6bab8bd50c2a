"""What an explorer (``dbnb.read.explore``) reads from, found out once when it is made:
the source as a subquery whose columns are known, the table's key, and each column's
kind (how it is filtered, searched, summarised and ordered); and how its statements are
read through the connection (``read``: a ``select()``, or its text for a connection
without SQLAlchemy).

A column's kind comes from its dtype in a read of no rows; where that is an object (an
empty read on the generic path), from its SQL type (a table's, a ``select()``'s); where
neither says, from one row's value.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.selectable import Subquery

from dbnb import typetable
from dbnb.errors import OptionError, QueryError

Kind = Literal["number", "bool", "text", "time", "duration", "other"]
SqlTypes = Mapping[str, Any]  # a column's name -> its SQLAlchemy type
_SQL_WORDS = {"SELECT", "WITH", "VALUES", "TABLE"}


class Source(Protocol):
    """What the explorer reads through: a connection (``dbnb.Facade``)."""

    @property
    def name(self) -> str: ...

    @property
    def sql_dialect(self) -> Dialect: ...  # what the statements dbnb builds compile with

    @property
    def takes_select(self) -> bool: ...  # False: SQL text only

    @property
    def engine(self) -> sa.Engine: ...  # where it takes a select()

    def query(self, sql: Any, params: Any = None, *, progress: bool | None = None) -> Any: ...

    def query_to_parquet(self, sql: Any, path: Any, params: Any = None) -> int: ...


@dataclass(frozen=True)
class Described:
    """A source as an explorer reads it."""

    label: str
    source: Subquery  # the source as a subquery, its columns known
    key: tuple[str, ...]  # the table's primary key: a stable order for pages
    kinds: Mapping[str, Kind]
    text_columns: tuple[str, ...]  # what a search looks in
    as_text: frozenset[str]  # text columns compared as their text (an enum, inet)


def describe(db: Source, source: str | Select[Any], params: Mapping[str, Any] | None) -> Described:
    """``source`` (a table's name, SQL text with ``:name`` placeholders bound from
    ``params``, or a ``select()``) described by one read of no rows (and, on the generic
    path, maybe one of a row)."""
    label, selectable, key, sql_types = _source(db, source, params)
    readable = (
        selectable.columns().subquery("dbnb_view")
        if isinstance(selectable, sa.TextClause)
        else selectable
    )
    probe: Select[Any] = sa.select(sa.literal_column("*")).select_from(readable).where(sa.false())
    shapes = read(db, probe)  # the columns and their dtypes, no rows read
    columns: list[sa.ColumnClause[Any]] = [sa.column(str(name)) for name in shapes.columns]
    kinds = {str(name): _kind(shapes[name].dtype) for name in shapes.columns}
    for name, kind in kinds.items():  # an empty read's object column: its SQL type says
        if kind == "other" and name in sql_types:
            kinds[name] = _sql_kind(sql_types[name])
    if any(kind == "other" and shapes[name].dtype == object for name, kind in kinds.items()):
        # A dialect whose empty reads are objects and whose catalog SQLAlchemy cannot read
        # (the generic path): one row's values say.
        sample = read(db, sa.select(sa.literal_column("*")).select_from(readable).limit(1))
        for name, kind in kinds.items():
            if kind == "other" and len(sample):
                kinds[name] = _value_kind(sample[name].iloc[0])
    text_columns = tuple(name for name, kind in kinds.items() if kind == "text")
    as_text = frozenset(name for name in text_columns if not _plain_text(sql_types.get(name)))
    return Described(label, _with_columns(selectable, columns), key, kinds, text_columns, as_text)


def read(db: Source, statement: Select[Any]) -> pd.DataFrame:
    """``statement``'s rows, read through ``db.query`` (a select() where SQLAlchemy
    serves the connection, else its text for the connection's own SQL). A refusal does
    not point into the statement, which dbnb wrote (``ex.sql()`` shows it)."""
    try:
        if db.takes_select:
            frame: pd.DataFrame = db.query(statement, progress=False)
        else:
            sql, params = compiled(db, statement)
            frame = db.query(sql, params, progress=False)
    except QueryError as error:
        raise error.unplaced() from None
    return frame


def compiled(db: Source, statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(
        dialect=_named(db.sql_dialect),
        compile_kwargs={"render_postcompile": True},  # an IN list: one placeholder per item
    )
    return str(compiled), dict(compiled.params)


def _source(
    db: Source, source: str | Select[Any], params: Mapping[str, Any] | None
) -> tuple[str, Subquery | sa.TextClause | sa.TableClause, tuple[str, ...], SqlTypes]:
    """The source's label, itself as something a select() can read from, its key, and
    the SQL types of its columns where SQLAlchemy knows them (a table's, a select()'s)."""
    if isinstance(source, Select):
        if params:
            source = source.params(**params)
        subquery = source.subquery("dbnb_view")
        return "a select()", subquery, (), {column.name: column.type for column in subquery.c}
    if not isinstance(source, str) or not source.strip():
        raise OptionError(f"{db.name}: explore a table's name, SQL text or a select()")
    text = source.strip().rstrip(";").strip()
    if text.split(None, 1)[0].upper() in _SQL_WORDS and len(text.split()) > 1:
        clause = sa.text(text)
        if params:
            clause = clause.bindparams(
                *(
                    sa.bindparam(name, value, expanding=isinstance(value, list | tuple))
                    for name, value in params.items()
                )
            )
        label = " ".join(text.split())
        return (label if len(label) <= 60 else label[:57] + "..."), clause, (), {}
    if params:
        raise OptionError(f"{db.name}: params are for SQL text; {text!r} is a table's name")
    schema, _, name = text.rpartition(".")
    key, sql_types = _reflected(db, name, schema or None)
    return text, sa.table(name, schema=schema or None), key, sql_types


def _with_columns(
    selectable: Subquery | sa.TextClause | sa.TableClause, columns: list[sa.ColumnClause[Any]]
) -> Subquery:
    """The source as a subquery whose columns are known (SQL text's and a table's, from
    the database's description)."""
    if isinstance(selectable, sa.TextClause):
        return selectable.columns(*columns).subquery("dbnb_view")
    if isinstance(selectable, sa.TableClause):
        table = sa.table(selectable.name, *columns, schema=selectable.schema)
        return sa.select(*table.columns).subquery("dbnb_view")
    return selectable  # a select()'s subquery knows its columns


def _reflected(db: Source, table: str, schema: str | None) -> tuple[tuple[str, ...], SqlTypes]:
    """The table's primary key (a stable order for pages) and its columns' SQL types;
    none where the connection cannot say."""
    if not db.takes_select:
        return (), {}
    key: tuple[str, ...] = ()
    sql_types: dict[str, Any] = {}
    with db.engine.connect() as connection, warnings.catch_warnings():
        # A type SQLAlchemy does not know is NullType here: the dtype decides.
        warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
        inspector = sa.inspect(connection)
        # Each on its own: a dialect may read one and not the other (DuckDB's keys).
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            columns = inspector.get_columns(table, schema=schema)
            sql_types = {column["name"]: column["type"] for column in columns}
        connection.rollback()
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            found = inspector.get_pk_constraint(table, schema=schema)
            key = tuple(found.get("constrained_columns") or ())
    return key, sql_types


def _value_kind(value: Any) -> Kind:
    """A column's kind by a value of it."""
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | decimal.Decimal | np.number):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime.timedelta):
        return "duration"
    if isinstance(value, datetime.date | datetime.time):
        return "time"
    return "other"


def _sql_kind(sql_type: Any) -> Kind:
    """A column's kind by its SQL type (where its dtype, an empty read's object, cannot say)."""
    if isinstance(sql_type, sa.Boolean):
        return "bool"
    if isinstance(sql_type, sa.Integer | sa.Numeric):
        return "number"
    if isinstance(sql_type, sa.String):
        return "text"
    if isinstance(sql_type, sa.Interval):
        return "duration"
    if isinstance(sql_type, sa.DateTime | sa.Date | sa.Time):
        return "time"
    return "other"


def _kind(dtype: Any) -> Kind:
    """A column's kind by its dtype: its category in dbnb's type table, a duration apart
    from other times (it is typed as one); "other" for what some database cannot compare
    or order (JSON, arrays, bytes and other objects)."""
    category = typetable.category_of_dtype(dtype)
    if category == typetable.TIME and any(word in str(dtype) for word in ("duration", "delta")):
        return "duration"
    kinds: dict[str, Kind] = {
        typetable.BOOL: "bool",
        typetable.NUMBER: "number",
        typetable.TEXT: "text",
        typetable.TIME: "time",
    }
    return kinds.get(category, "other")


def _plain_text(sql_type: Any) -> bool:
    """Whether a column of ``sql_type`` is compared with text as it is: a string type,
    not an enum (PostgreSQL's has no ``=`` with text) nor an unknown type."""
    return isinstance(sql_type, sa.String) and not isinstance(sql_type, sa.Enum)


def _named(dialect: Dialect) -> Dialect:
    """``dialect``, writing ``:name`` placeholders (what dbnb's SQL text takes)."""
    named: Dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
    named.server_version_info = dialect.server_version_info
    return named
