"""``db.explore(source)``: a view of a table or a read query that the database pages,
sorts, filters, searches and counts, so the kernel holds one page, never the result.

Each step is one ``select()`` over the source as a subquery (values bound, names quoted
by SQLAlchemy for the database at hand), sent through ``db.query``: the read-only
session, its allow-list, limits, history, Ctrl-C and connection budget, like any read.
A database reached without SQLAlchemy (Spark) gets the same statement as text, compiled
with the dialect its connection names (``sql_dialect``).

Pages are ordered by the sort's column and then by every column of the table's primary
key (a table source), so a page holds the same rows each time. Where that order is a
numeric key's alone (no sort, or a sort on a one-column key), the page after (or before) one
already read starts from that page's last (first) key (keyset paging: page 10,000 of a
big table costs what page 1 does); any other page is ``LIMIT``/``OFFSET``.
A source without a key breaks a sort's ties by its other scalar columns (numbers, text,
times, booleans): rows equal in the sort's column come in one order on every page and
every run (Spark, for one, otherwise orders ties differently each time).
"""

from __future__ import annotations

import html
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Subquery

from dbnb.errors import OptionError
from dbnb.read import jobs
from dbnb.read.explore_source import Kind, Source, compiled, describe, read

# The filters ``Explorer.filter`` takes, and how each becomes SQL.
OPERATORS = (
    "=", "!=", "<", "<=", ">", ">=", "like", "ilike", "contains", "in", "is null", "is not null"
)  # fmt: skip
_NO_VALUE = {"is null", "is not null"}


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
    kinds: Mapping[str, Kind] = field(default_factory=dict)  # each column's, by its dtype
    # Text columns of a type that text is not compared with as it is (an enum, inet; or
    # not known): compared as their text.
    as_text: frozenset[str] = frozenset()
    view: View = field(default_factory=View)
    # The first and last key of each page read in ``_bounds_of`` (keyset paging).
    _bounds: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = field(
        default_factory=dict, repr=False
    )
    _bounds_of: tuple[View, int] | None = field(default=None, repr=False)  # (view, size)

    @property
    def ties(self) -> tuple[str, ...]:
        """Without a key: the columns that order a sort's ties (those every database orders)."""
        return tuple(name for name, kind in self.kinds.items() if kind != "other")

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
        return self._page(number)()

    def count(self) -> int:
        """How many rows the current view has, counted by the database."""
        return self._count()()

    def submit_page(self, number: int = 0) -> jobs.Job:
        """``page(number)`` in the background: a job whose ``cancel()`` stops the read
        on the server (a grid's answer to a click that came after)."""
        return jobs.background(self.db.name, self.label, self._page(number))

    def submit_count(self) -> jobs.Job:
        """``count()`` in the background."""
        return jobs.background(self.db.name, self.label, self._count())

    def _page(self, number: int) -> Callable[[], pd.DataFrame]:
        """Page ``number``'s read: its statement built now, for the view as it is now
        (a grid changes the view while an earlier page is still being read)."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise OptionError(f"{self.db.name}: a page is a number from 0, not {number!r}")
        view = self.view
        if not _same(self._bounds_of, (view, self.page_size)):  # another view or page size
            self._bounds, self._bounds_of = {}, (view, self.page_size)
        bounds = self._bounds
        statement, backwards = self._page_statement(number)
        keyed = self._keyset() is not None

        def read() -> pd.DataFrame:
            page = self._read(statement)
            if backwards:
                page = page.iloc[::-1].reset_index(drop=True)
            if keyed and len(page):
                key = page[list(self.key)]
                bounds[number] = (_row(key.iloc[0]), _row(key.iloc[-1]))
            return page

        return read

    def _count(self) -> Callable[[], int]:
        statement = sa.select(sa.func.count().label("n")).select_from(
            self._where(sa.select(*self.source.columns)).subquery("dbnb_counted")
        )

        def read() -> int:
            counted: Any = self._read(statement).iloc[0, 0]
            return int(counted)

        return read

    def summary(self, column: str) -> dict[str, Any]:
        """What ``db.profile`` gives for ``column`` of the current view: ``rows``,
        ``nulls``, ``distinct``, ``min``, ``max``, ``mean`` (numbers), ``top`` and
        ``top_count``; computed by the database, in two statements."""
        target = self._column(column)
        kind = self.kinds.get(target.name, "other")
        view = self._where(sa.select(*self.source.columns)).subquery("dbnb_summarised")
        value = view.c[target.name]
        figures: list[ColumnElement[Any]] = [
            sa.func.count().label("rows"),
            sa.func.count(value).label("values"),
        ]
        if kind != "other":
            figures.append(sa.func.count(sa.distinct(value)).label("distinct"))
        if kind in ("number", "text", "time", "duration"):  # PostgreSQL has no min(boolean)
            figures += [sa.func.min(value).label("min"), sa.func.max(value).label("max")]
        if kind == "number":
            figures.append(sa.func.avg(value).label("mean"))
        figured = self._read(sa.select(*figures))
        # Each figure from its own column: a row of them would be one common dtype.
        row = {name: _python(figured[name].iloc[0]) for name in figured.columns}
        found: dict[str, Any] = {"column": target.name, "rows": int(row["rows"])}
        found["nulls"] = found["rows"] - int(row["values"])
        for name in ("distinct", "min", "max", "mean"):
            found[name] = None if pd.isna(row.get(name)) else row.get(name)
        if found["mean"] is not None:  # PostgreSQL's avg is numeric: a summary's is a float
            found["mean"] = float(found["mean"])
        found["top"] = found["top_count"] = None
        if kind != "other" and int(row["values"]):
            counted = sa.func.count().label("n")
            top = self._read(
                sa.select(value, counted)
                .where(value.is_not(None))
                .group_by(value)
                .order_by(counted.desc(), value)
                .limit(1)
            ).iloc[0]
            found["top"], found["top_count"] = _python(top.iloc[0]), int(top.iloc[1])
        return found

    def frame(self) -> pd.DataFrame:
        """The whole current view as a DataFrame (the connection's ``max_rows`` applies)."""
        return self._read(self._ordered())

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The current view as one statement with ``:name`` placeholders, and its values:
        what ``db.query(*ex.sql())`` reads again."""
        return compiled(self.db, self._ordered())

    # --- what a notebook shows ----------------------------------------------------------

    def __repr__(self) -> str:
        return f"<dbnb.Explorer {self.db.name}: {self.label}, {self.page_size} rows a page>"

    def _repr_html_(self) -> str:
        """Where no grid can show (nbconvert, nbval): the first page and the count."""
        return self.static_html(self.page(0), self.count())

    def static_html(self, first: pd.DataFrame, total: int | None) -> str:
        """The first page as a table under a line with the count (``None``: not known yet)."""
        if total is None:
            shown = f"the first {len(first):,} rows (still counting)"
        elif total > len(first):
            shown = f"{len(first):,} of {total:,} rows"
        else:
            shown = f"{total:,} rows"
        caption = f"{html.escape(self.db.name)}: {html.escape(self.label)}: {shown}"
        return f'<p class="dbnb-banner"><small>{caption}</small></p>\n' + first.to_html(
            index=False, na_rep="<NA>", max_rows=self.page_size
        )

    # --- the statements -----------------------------------------------------------------

    def _keyset(self) -> tuple[list[ColumnElement[Any]], bool] | None:
        """The key's columns and whether they run descending, where the view's order is
        the key's alone (keyset paging works); None where it is not."""
        # Numbers only: a key read as text may be a uuid, which a text value does not
        # compare with on every path.
        if not self.key or any(self.kinds.get(name) != "number" for name in self.key):
            return None
        if self.view.sort is None:
            return [self.source.c[name] for name in self.key], False
        name, descending = self.view.sort
        if self.key == (name,):
            return [self.source.c[name]], descending
        return None

    def _page_statement(self, number: int) -> tuple[Select[Any], bool]:
        """Page ``number``'s statement, and whether it reads the page backwards (from the
        page after it, read already): keyset where it can, else ``OFFSET``."""
        keyset = self._keyset()
        if keyset is not None and number > 0:
            columns, descending = keyset
            key = sa.tuple_(*columns) if len(columns) > 1 else columns[0]
            after, before = self._bounds.get(number - 1), self._bounds.get(number + 1)
            if after is not None:
                last = _bound(after[1], "k")
                onward = key < last if descending else key > last
                return self._ordered().where(onward).limit(self.page_size), False
            if before is not None:
                first = _bound(before[0], "k")
                back = key > first if descending else key < first
                order = [column.asc() if descending else column.desc() for column in columns]
                statement = self._where(sa.select(*self.source.columns)).where(back)
                return statement.order_by(*order).limit(self.page_size), True
        return self._ordered().limit(self.page_size).offset(number * self.page_size), False

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
                        self._operand(name, "ilike").ilike(pattern, escape=_ESCAPE)
                        for name in self.text_columns
                    )
                )
            )
        elif self.view.search:
            statement = statement.where(sa.false())  # no text column contains anything
        return statement

    def _condition(self, name: str, op: str, value: Any, bind: str) -> ColumnElement[bool]:
        self._column(name)
        op = op.strip().lower() if isinstance(op, str) else op
        if op not in OPERATORS:
            raise OptionError(
                f"{self.db.name}: no filter {op!r}; use one of {', '.join(OPERATORS)}"
            )
        column = self._operand(name, op)
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
        if op == "contains":  # the text itself, any case: its % and _ are not wildcards
            literal: sa.BindParameter[str] = sa.bindparam(bind, "%" + _escaped(str(value)) + "%")
            return column.ilike(literal, escape=_ESCAPE)
        return _COMPARISONS[op](column, bound)

    def _operand(self, name: str, op: str) -> ColumnElement[Any]:
        """The column as a filter compares it: as its text where the database would not
        compare its type with text (an enum or inet with a text value; LIKE on a number)."""
        column = self.source.c[name]
        textual = op in ("like", "ilike", "contains")
        if name in self.as_text or (textual and self.kinds.get(name) != "text"):
            return sa.cast(column, sa.Text)
        return column

    def _column(self, name: str) -> ColumnElement[Any]:
        if not isinstance(name, str) or name not in self.source.c:
            raise OptionError(
                f"{self.db.name}: {self.label} has no column {name!r}; "
                f"its columns: {', '.join(self.columns)}"
            )
        return self.source.c[name]

    def _read(self, statement: Select[Any]) -> pd.DataFrame:
        return read(self.db, statement)


def explore(
    db: Source,
    source: str | Select[Any],
    params: Mapping[str, Any] | None = None,
    page_size: int = 50,
) -> Explorer:
    """An explorer over ``source``: a table's name (``schema.table`` too), SQL text with
    ``:name`` placeholders bound from ``params``, or a ``select()``."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise OptionError(f"{db.name}: page_size is a number of rows above 0, not {page_size!r}")
    found = describe(db, source, params)
    return Explorer(
        db,
        found.source,
        found.key,
        page_size,
        found.text_columns,
        found.label,
        found.kinds,
        as_text=found.as_text,
    )


def _same(one: Any, other: Any) -> bool:
    """``one == other``, False where the values cannot say (an array among them)."""
    try:
        return bool(one == other)
    except ValueError:
        return False


def _row(values: pd.Series) -> tuple[Any, ...]:
    return tuple(_python(value) for value in values)


def _bound(values: tuple[Any, ...], name: str) -> ColumnElement[Any]:
    """A page's key as bound values (one, or a row of them)."""
    bound: list[sa.BindParameter[Any]] = [
        sa.bindparam(f"{name}{index}", value) for index, value in enumerate(values)
    ]
    return sa.tuple_(*bound) if len(bound) > 1 else bound[0]


def _python(value: Any) -> Any:
    """A numpy scalar (what a DataFrame's cell is) as the Python value drivers bind."""
    return value.item() if isinstance(value, np.generic) else value


def _escaped(text: str) -> str:
    """``text`` as a LIKE pattern matches it, its wildcards escaped."""
    for special in (_ESCAPE, "%", "_"):
        text = text.replace(special, _ESCAPE + special)
    return text


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
