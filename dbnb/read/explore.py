"""``db.explore(source)``: a view of a table or a read query that the database pages,
sorts, filters, searches and counts, so the kernel holds one page, never the result.

Each step is one ``select()`` over the source as a subquery (values bound, names quoted
by SQLAlchemy for the database at hand), sent through ``db.query``: the read-only
session, its allow-list, limits, history, Ctrl-C and connection budget, like any read.
A database reached without SQLAlchemy (Spark) gets the same statement as text, compiled
with the dialect its connection names (``sql_dialect``).

Paging is ``LIMIT``/``OFFSET``, ordered by the sort's column and then by every column
of the table's primary key (a table source), so a page holds the same rows each time.
A source without a key breaks a sort's ties by its other scalar columns (numbers, text,
times, booleans): rows equal in the sort's column come in one order on every page and
every run (Spark, for one, otherwise orders ties differently each time).
"""

from __future__ import annotations

import html
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Subquery

from dbnb.errors import OptionError


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


# The filters ``Explorer.filter`` takes, and how each becomes SQL.
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "like", "ilike", "in", "is null", "is not null")
_NO_VALUE = {"is null", "is not null"}
_SQL_WORDS = {"SELECT", "WITH", "VALUES", "TABLE"}


@dataclass(frozen=True)
class View:
    """What the explorer shows: the source's rows after its sort, filters and search."""

    sort: tuple[str, bool] | None = None  # (column, descending)
    filters: tuple[tuple[str, str, Any], ...] = ()
    search: str | None = None


@dataclass
class Explorer:
    """A read query or a table, explored in pages the database computes."""

    db: Source
    source: Subquery  # the source as a subquery, its columns known
    key: tuple[str, ...]  # the table's primary key: a stable order for pages
    page_size: int
    text_columns: tuple[str, ...]  # what ``search`` looks in
    label: str
    ties: tuple[str, ...] = ()  # without a key: what orders a sort's ties
    view: View = field(default_factory=View)

    # --- the view: each step returns the explorer, so they chain ------------------------

    @property
    def columns(self) -> list[str]:
        return [column.name for column in self.source.columns]

    def sort(self, column: str, descending: bool = False) -> Explorer:
        """Order the view by ``column`` (in the database); replaces an earlier sort."""
        self.view = replace(self.view, sort=(self._column(column).name, bool(descending)))
        return self

    def filter(self, column: str, op: str, value: Any = None) -> Explorer:
        """Keep the rows where ``column op value`` (``value`` bound, never spliced in);
        ``op`` is one of ``OPERATORS``. Filters add up (AND)."""
        self._condition(column, op, value, "check")  # checked now, not at the next page
        self.view = replace(self.view, filters=(*self.view.filters, (column, op, value)))
        return self

    def search(self, text: str) -> Explorer:
        """Keep the rows where any text column contains ``text`` (any case)."""
        self.view = replace(self.view, search=text or None)
        return self

    def clear(self) -> Explorer:
        """No sort, filter or search."""
        self.view = View()
        return self

    # --- what the database computes -----------------------------------------------------

    def page(self, number: int = 0) -> pd.DataFrame:
        """Page ``number`` (from 0) of the current view, ``page_size`` rows at most."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise OptionError(f"{self.db.name}: a page is a number from 0, not {number!r}")
        statement = self._ordered().limit(self.page_size).offset(number * self.page_size)
        return self._read(statement)

    def count(self) -> int:
        """How many rows the current view has, counted by the database."""
        statement = sa.select(sa.func.count().label("n")).select_from(
            self._where(sa.select(*self.source.columns)).subquery("dbnb_counted")
        )
        counted: Any = self._read(statement).iloc[0, 0]
        return int(counted)

    def frame(self) -> pd.DataFrame:
        """The whole current view as a DataFrame (the connection's ``max_rows`` applies)."""
        return self._read(self._ordered())

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The current view as one statement with ``:name`` placeholders, and its values:
        what ``db.query(*ex.sql())`` reads again."""
        return _compiled(self.db, self._ordered())

    # --- what a notebook shows ----------------------------------------------------------

    def __repr__(self) -> str:
        return f"<dbnb.Explorer {self.db.name}: {self.label}, {self.page_size} rows a page>"

    def _repr_html_(self) -> str:
        """Where no grid can show (nbconvert, nbval): the first page and the count."""
        first = self.page(0)
        total = self.count()
        shown = f"{len(first):,} of {total:,} rows" if total > len(first) else f"{total:,} rows"
        caption = f"{html.escape(self.db.name)}: {html.escape(self.label)}: {shown}"
        return f'<p class="dbnb-banner"><small>{caption}</small></p>\n' + first.to_html(
            index=False, na_rep="<NA>", max_rows=self.page_size
        )

    # --- the statements -----------------------------------------------------------------

    def _ordered(self) -> Select[Any]:
        statement = self._where(sa.select(*self.source.columns))
        order: list[ColumnElement[Any]] = []
        descending = False
        if self.view.sort is not None:
            name, descending = self.view.sort
            column = self.source.c[name]
            order.append(column.desc() if descending else column.asc())
        # Ties in a stable order: the same rows on each page. Without a key, only a
        # sorted view is ordered by the other columns (an unsorted page stays cheap).
        ties = self.key or (self.ties if self.view.sort is not None else ())
        for name in ties:
            if self.view.sort is None or name != self.view.sort[0]:
                column = self.source.c[name]
                order.append(column.desc() if descending else column.asc())
        return statement.order_by(*order) if order else statement

    def _where(self, statement: Select[Any]) -> Select[Any]:
        # Placeholders named by position (f0, f1, ...), not by column: any name works.
        for index, (column, op, value) in enumerate(self.view.filters):
            statement = statement.where(self._condition(column, op, value, f"f{index}"))
        if self.view.search and self.text_columns:
            pattern: sa.BindParameter[str] = sa.bindparam(
                "search", "%" + _escaped(self.view.search) + "%"
            )
            statement = statement.where(
                sa.or_(
                    *(
                        self.source.c[name].ilike(pattern, escape=_ESCAPE)
                        for name in self.text_columns
                    )
                )
            )
        elif self.view.search:
            statement = statement.where(sa.false())  # no text column contains anything
        return statement

    def _condition(self, name: str, op: str, value: Any, bind: str) -> ColumnElement[bool]:
        column = self._column(name)
        op = op.strip().lower() if isinstance(op, str) else op
        if op not in OPERATORS:
            raise OptionError(
                f"{self.db.name}: no filter {op!r}; use one of {', '.join(OPERATORS)}"
            )
        if op in _NO_VALUE:
            return column.is_(None) if op == "is null" else column.is_not(None)
        if value is None:
            raise OptionError(
                f"{self.db.name}: filter {name!r} {op} needs a value "
                "(for NULL use 'is null' or 'is not null')"
            )
        if op == "in":
            if isinstance(value, str | bytes) or not isinstance(value, Sequence | set):
                raise OptionError(f"{self.db.name}: filter {name!r} in needs a list of values")
            values = [_python(item) for item in value]
            return column.in_(sa.bindparam(bind, values, expanding=True))
        bound: sa.BindParameter[Any] = sa.bindparam(bind, _python(value))
        if op == "like":
            return column.like(bound)
        if op == "ilike":
            return column.ilike(bound)
        return _COMPARISONS[op](column, bound)

    def _column(self, name: str) -> ColumnElement[Any]:
        if not isinstance(name, str) or name not in self.source.c:
            raise OptionError(
                f"{self.db.name}: {self.label} has no column {name!r}; "
                f"its columns: {', '.join(self.columns)}"
            )
        return self.source.c[name]

    def _read(self, statement: Select[Any]) -> pd.DataFrame:
        return _read(self.db, statement)


def explore(
    db: Source, source: Any, params: Mapping[str, Any] | None = None, page_size: int = 50
) -> Explorer:
    """An explorer over ``source``: a table's name (``schema.table`` too), SQL text with
    ``:name`` placeholders bound from ``params``, or a ``select()``."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise OptionError(f"{db.name}: page_size is a number of rows above 0, not {page_size!r}")
    label, selectable, key = _source(db, source, params)
    readable = (
        selectable.columns().subquery("dbnb_view")
        if isinstance(selectable, sa.TextClause)
        else selectable
    )
    probe: Select[Any] = sa.select(sa.literal_column("*")).select_from(readable).where(sa.false())
    shapes = _read(db, probe)  # the columns and their dtypes, no rows read
    columns: list[sa.ColumnClause[Any]] = [sa.column(str(name)) for name in shapes.columns]
    text_columns = tuple(
        str(name) for name in shapes.columns if pd.api.types.is_string_dtype(shapes[name].dtype)
    )
    ties = () if key else tuple(str(name) for name in shapes.columns if _orders(shapes[name]))
    source_ = _with_columns(selectable, columns)
    return Explorer(db, source_, key, page_size, text_columns, label, ties=ties)


def _orders(column: pd.Series) -> bool:
    """Whether every database orders a column of this dtype (not JSON, arrays or other
    objects, which some cannot compare)."""
    kind = column.dtype
    return bool(
        pd.api.types.is_numeric_dtype(kind)
        or (pd.api.types.is_string_dtype(kind) and not pd.api.types.is_object_dtype(kind))
        or pd.api.types.is_datetime64_any_dtype(kind)
        or pd.api.types.is_timedelta64_dtype(kind)
    )


def _read(db: Source, statement: Select[Any]) -> pd.DataFrame:
    """``statement``'s rows, read through ``db.query`` (a select() where SQLAlchemy
    serves the connection, else its text for the connection's own SQL)."""
    if db.takes_select:
        frame: pd.DataFrame = db.query(statement, progress=False)
    else:
        sql, params = _compiled(db, statement)
        frame = db.query(sql, params, progress=False)
    return frame


def _compiled(db: Source, statement: Select[Any]) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(
        dialect=_named(db.sql_dialect),
        compile_kwargs={"render_postcompile": True},  # an IN list: one placeholder per item
    )
    return str(compiled), dict(compiled.params)


def _source(
    db: Source, source: Any, params: Mapping[str, Any] | None
) -> tuple[str, Subquery | sa.TextClause | sa.TableClause, tuple[str, ...]]:
    """The source's label, itself as something a select() can read from, and its key."""
    if isinstance(source, Select):
        if params:
            source = source.params(**params)
        return "a select()", source.subquery("dbnb_view"), ()
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
        return (label if len(label) <= 60 else label[:57] + "..."), clause, ()
    if params:
        raise OptionError(f"{db.name}: params are for SQL text; {text!r} is a table's name")
    schema, _, name = text.rpartition(".")
    return text, sa.table(name, schema=schema or None), _primary_key(db, name, schema or None)


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


def _primary_key(db: Source, table: str, schema: str | None) -> tuple[str, ...]:
    """The table's primary key (a stable order for pages); none where it has none or
    the connection cannot say."""
    if not db.takes_select:
        return ()
    try:
        with db.engine.connect() as connection:
            found = sa.inspect(connection).get_pk_constraint(table, schema=schema)
    except sa.exc.SQLAlchemyError:
        return ()
    return tuple(found.get("constrained_columns") or ())


def _python(value: Any) -> Any:
    """A numpy scalar (what a DataFrame's cell is) as the Python value drivers bind."""
    return value.item() if isinstance(value, np.generic) else value


def _escaped(text: str) -> str:
    """``text`` as a LIKE pattern matches it, its wildcards escaped."""
    for special in (_ESCAPE, "%", "_"):
        text = text.replace(special, _ESCAPE + special)
    return text


def _named(dialect: Dialect) -> Dialect:
    """``dialect``, writing ``:name`` placeholders (what dbnb's SQL text takes)."""
    named: Dialect = type(dialect)(paramstyle="named")  # type: ignore[call-arg]
    named.server_version_info = dialect.server_version_info
    return named


# LIKE's escape character: not a backslash, which some SQL (Spark's, MySQL's) reads as an
# escape inside the string literal itself.
_ESCAPE = "!"

_COMPARISONS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
