"""Plots whose numbers the database computes: one aggregate statement per plot.

``hist`` sends the bins' counts, ``bar`` the top values' counts, ``box`` the
quartiles: only those rows travel, whatever the size of the table. ``hist`` bins
numbers, and dates and timestamps over time (as seconds since 1970, the bins'
edges drawn as dates); a read of no rows first tells which. ``bar`` counts any
values (enums, booleans, text). The rows are read with ``db.query`` (bound,
read-only, recorded in the history), then drawn with matplotlib, which loads
with the first plot. A plot that fails leaves no figure behind, and its error
names the column, never a place in the SQL dbnb wrote.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import pandas as pd

from dbnb.errors import DbnbError, QueryError
from dbnb.see import sources
from dbnb.typetable import BOOL, NUMBER, TIME, category_of_dtype

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from dbnb.see.backend import Viewed

Kind = Literal["hist", "bar", "box"]
KINDS = ("hist", "bar", "box")
DEFAULT_BINS = 10
DEFAULT_TOP = 10


def plot(
    db: Viewed,
    kind: str,
    source: str,
    column: str,
    params: Mapping[str, Any] | None = None,
    *,
    bins: int = DEFAULT_BINS,
    top: int = DEFAULT_TOP,
    ax: Axes | None = None,
) -> Axes:
    """Draw ``kind`` of ``column`` of ``source`` (a table or a query) on ``ax``
    (a new figure's when None) and return the Axes."""
    if kind not in KINDS:
        raise DbnbError(f"plot kind {kind!r} is not one of {', '.join(KINDS)}")
    for name, number in (("bins", bins), ("top", top)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise DbnbError(f"{name} must be a positive whole number, not {number!r}")
    pyplot = _pyplot()
    where = sources.from_clause(db, source)
    value = sources.quote_column(db, column)
    named = f"{column} of {sources.label(source)}"
    try:  # the numbers first: a figure is made only to draw them
        if kind == "hist":
            draw = _hist(db, where, value, params, bins, named)
        elif kind == "bar":
            draw = _bar(db, where, value, params, top, named)
        else:
            draw = _box(db, where, value, params, column, named)
    except QueryError as error:
        raise QueryError(
            f"{db.name}: cannot plot {kind} of {named}: {sources.reason(db, error)}"
        ) from None
    if ax is not None:
        draw(ax)
        return ax
    figure, made = pyplot.subplots()
    axes = cast("Axes", made)
    try:
        draw(axes)
    except BaseException:
        pyplot.close(figure)  # no empty figure left in the notebook's output
        raise
    return axes


Draw = Callable[["Axes"], None]


def histogram_sql(db: Viewed, where: str, value: str, bins: int) -> str:
    """One statement: the non-empty bins' numbers and counts, with the range binned."""
    rule = db.backend.histogram_bin("x", "low", "high", bins)
    return (
        f"WITH dbnb_values AS (SELECT {value} AS x FROM {where}), "
        "dbnb_range AS (SELECT min(x) AS low, max(x) AS high FROM dbnb_values) "
        f"SELECT {rule} AS bin, count(*) AS n, min(low) AS low, min(high) AS high "
        "FROM dbnb_values CROSS JOIN dbnb_range WHERE x IS NOT NULL GROUP BY 1 ORDER BY 1"
    )


def _hist(
    db: Viewed,
    where: str,
    value: str,
    params: Mapping[str, Any] | None,
    bins: int,
    named: str,
) -> Draw:
    over_time = _binned_over_time(db, where, value, params, named)
    if over_time:
        value = db.backend.epoch_seconds(value)
    rows = db.query(histogram_sql(db, where, value, bins), params, progress=False)
    counts = [0] * bins
    low = high = 0.0
    for number, count, first, last in rows.itertuples(index=False, name=None):
        counts[int(number)] = int(count)
        low, high = _number(first, named), _number(last, named)
    if over_time:  # seconds -> days, matplotlib's dates
        low, high = low / _DAY + _EPOCH, high / _DAY + _EPOCH
    if low == high:  # one value (or none): one bar around it, as numpy draws it
        edges = [low - 0.5 + index / bins for index in range(bins + 1)]
    else:
        edges = [low + (high - low) * index / bins for index in range(bins + 1)]
    widths = [right - left for left, right in itertools.pairwise(edges)]

    def draw(ax: Axes) -> None:
        ax.bar(edges[:-1], counts, width=widths, align="edge", edgecolor="white")
        if over_time:
            ax.xaxis_date()
            ax.figure.autofmt_xdate()
        ax.set_title(f"{named}: {sum(counts):,} values in {bins} bins")
        ax.set_xlabel(named.split(" of ", 1)[0])
        ax.set_ylabel("rows")

    return draw


# matplotlib's dates are days since 1970-01-01 (its default epoch).
_DAY = 86400.0
_EPOCH = 0.0


def _binned_over_time(
    db: Viewed, where: str, value: str, params: Mapping[str, Any] | None, named: str
) -> bool:
    """Whether ``value`` is binned over time (dates, timestamps) rather than as numbers,
    from the dtype a read of no rows gives it; a DbnbError for anything else."""
    dtype = db.query(f"SELECT {value} FROM {where} WHERE 1 = 0", params, progress=False).dtypes
    found = dtype.iloc[0] if len(dtype) else None
    text = str(found)
    if found is None or text == "object":
        return False  # typed by its values (SQLite's expressions): as numbers, if they are
    category = category_of_dtype(found)  # the type table's categories (dbnb.typetable)
    if category == BOOL:
        raise DbnbError(
            f"{named}: hist needs numbers, dates or timestamps, not booleans; bar counts them"
        )
    if category == NUMBER:
        return False
    if category == TIME and text.startswith(("timestamp", "date")):
        return True  # a time of day or a duration has no place on a calendar
    raise DbnbError(
        f"{named}: hist needs numbers, dates or timestamps; it reads as {text} "
        "(bar counts any values)"
    )


def bar_sql(where: str, value: str, top: int) -> str:
    """One statement: the ``top`` most frequent values and their counts, with the
    rows and the values there are in all (a window over the groups)."""
    return (
        "SELECT value, n, total, groups FROM ("
        f"SELECT {value} AS value, count(*) AS n, sum(count(*)) OVER () AS total, "
        f"count(*) OVER () AS groups FROM {where} GROUP BY {value}"
        f") AS dbnb_counts ORDER BY n DESC, value LIMIT {top}"
    )


def _bar(
    db: Viewed,
    where: str,
    value: str,
    params: Mapping[str, Any] | None,
    top: int,
    named: str,
) -> Draw:
    rows = db.query(bar_sql(where, value, top), params, progress=False)
    labels = ["NULL" if _missing(item) else str(item) for item in rows["value"]]
    counts = [int(n) for n in rows["n"]]
    total = int(rows["total"].iloc[0]) if len(rows) else 0
    groups = int(rows["groups"].iloc[0]) if len(rows) else 0
    others = total - sum(counts)
    rest = f", {others:,} rows in the others" if others else ""

    def draw(ax: Axes) -> None:
        ax.bar(range(len(counts)), counts, tick_label=labels)
        ax.set_title(f"{named}: top {len(counts)} of {groups:,} values{rest}")
        ax.set_xlabel(named.split(" of ", 1)[0])
        ax.set_ylabel("rows")
        if any(len(text) > 6 for text in labels):
            ax.tick_params(axis="x", labelrotation=45)

    return draw


def box_sql(db: Viewed, where: str, value: str) -> str:
    return db.backend.quartiles(value, where)


def quartiles(
    db: Viewed, source: str, column: str, params: Mapping[str, Any] | None = None
) -> dict[str, float | int | None]:
    """``n, low, q1, median, q3, high`` of ``column`` over ``source``, from one statement."""
    statement = box_sql(db, sources.from_clause(db, source), sources.quote_column(db, column))
    row = db.query(statement, params, progress=False).iloc[0]
    found: dict[str, float | int | None] = {"n": int(row["n"])}
    for name in ("low", "q1", "median", "q3", "high"):
        found[name] = None if _missing(row[name]) else _number(row[name], column)
    return found


def _box(
    db: Viewed,
    where: str,
    value: str,
    params: Mapping[str, Any] | None,
    column: str,
    named: str,
) -> Draw:
    row = db.query(box_sql(db, where, value), params, progress=False).iloc[0]
    n = int(row["n"])
    stats = None
    if n:
        stats = {
            "label": column,
            "whislo": _number(row["low"], named),
            "q1": _number(row["q1"], named),
            "med": _number(row["median"], named),
            "q3": _number(row["q3"], named),
            "whishi": _number(row["high"], named),
            "fliers": [],
        }

    def draw(ax: Axes) -> None:
        if stats is not None:
            ax.bxp([stats], showfliers=False)
        ax.set_title(f"{named}: {n:,} values (whiskers at min and max)")
        ax.set_ylabel(column)

    return draw


def _pyplot() -> Any:
    try:
        from matplotlib import pyplot
    except ImportError:
        raise DbnbError("plots need matplotlib: pip install 'dbnb[plots]'") from None
    return pyplot


def _number(value: Any, named: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DbnbError(
            f"{named}: {value!r} is not a number; hist and box need a numeric column "
            "(bar counts any values)"
        ) from None


def _missing(value: Any) -> bool:
    """NULL; a list (an array's value) is a value, whatever it holds."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
