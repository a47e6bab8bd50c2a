"""A table's profile: per-column statistics computed by the database in one statement.

``count`` (non-NULL values), ``nulls``, ``distinct`` (non-NULL), ``min``, ``max``,
``mean`` (numbers only) and ``top`` (the most frequent non-NULL value; of equally
frequent ones the smallest) for every column, as pandas computes them on the
same rows: text compared as Python compares str, values typed as ``db.query``
types the table's columns. The statements: the table's columns from the catalog,
one read of no rows for their dtypes, and one aggregate statement (``top`` is
PostgreSQL's ``mode()`` in the same scan; elsewhere the smallest value when every
value is distinct, else a subquery scanning again); no row of the table is fetched.

Every type has a rule (``kind_of``: its category in its database's type table,
``dbnb.typetable``): numbers, booleans, text, enums (as their labels' text), dates
and times, and bytes are compared and counted as ``db.query`` reads them; a value
with no order or equality of its own (JSON, arrays, inet, uuid, ranges, geometry,
any type of an extension) is counted by its text, its ``top`` that text (JSON's
parsed), with no ``min`` or ``max``. A statement the
database still refuses is named by its column, never by a position in dbnb's SQL.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy
from sqlalchemy import exc

from dbnb import typetable
from dbnb.errors import QueryError
from dbnb.see import sources
from dbnb.sql import identifiers
from dbnb.typetable import TypeTable, category_of_dtype, sql_rule

if TYPE_CHECKING:
    from dbnb.see.backend import Viewed

COLUMNS = ["column", "type", "count", "nulls", "distinct", "min", "max", "mean", "top"]
# Kinds whose values have no order of their own here: counted by their text, no min/max.
_BY_TEXT = (typetable.JSON, typetable.OTHER)


# The rows a sample reads to choose how each column's distinct values are counted.
SAMPLE_ROWS = 20_000


@dataclass(frozen=True)
class Column:
    """One column as the profile reads it: its name, its type as the database spells
    it, how it is summarized (``kind_of``), and whether its distinct values are counted
    by grouping them (few of them) rather than sorting them (many)."""

    name: str
    type_name: str
    kind: str
    grouped: bool = False
    width: int | None = None  # its longest value's, where the backend counts it so faster


def profile(db: Viewed, table: str) -> pd.DataFrame:
    """One row per column of ``table`` (``schema.table`` too); see the module's doc."""
    schema, name = _locate(db, table)
    where = sources.quote_table(db, f"{schema}.{name}" if schema else name)
    shapes = db.query(f"SELECT * FROM {where} WHERE 1 = 0", progress=False)  # dtypes, no rows
    columns = _as_read(_columns(db, schema, name), shapes) or _columns_of(shapes)
    columns = _sampled(db, where, _measured(db, where, columns))
    row = _aggregates(db, table, where, columns)
    total = int(row["total"])
    found = []
    for index, column in enumerate(columns):
        values = [
            row[f"c{index}_{stat}"] if column.kind not in _BY_TEXT or stat == "top" else None
            for stat in ("min", "max", "top")
        ]
        dtype = shapes[column.name].dtype if column.name in shapes else None
        low, high, top = _typed(values, dtype, column.kind)
        count = int(row[f"c{index}_count"])
        mean = row.get(f"c{index}_mean")
        found.append(
            (
                column.name,
                column.type_name,
                count,
                total - count,
                int(row[f"c{index}_distinct"]),
                low,
                high,
                None if mean is None or pd.isna(mean) else float(mean),
                top,
            )
        )
    frame = pd.DataFrame(found, columns=COLUMNS)
    return frame.astype(
        {
            "column": "string",
            "type": "string",
            "count": "Int64",
            "nulls": "Int64",
            "distinct": "Int64",
            "mean": "Float64",
        }
    )


def _aggregates(db: Viewed, table: str, where: str, columns: list[Column]) -> pd.Series:
    """The one aggregate statement's row. Refused (a type whose rule the catalog could
    not say: PostgreSQL's ``xid`` has no collation), each column is tried by the same
    statement over no rows (refused or answered at once, nothing read); a refused one
    is counted by its text instead, and the statement sent again; one that is refused
    even so is named in the error, with its type and the database's reason."""
    try:
        return _aggregate_row(db, where, columns)
    except QueryError as error:
        reason = sources.reason(db, error)
    nothing = f"(SELECT * FROM {where} WHERE 1 = 0) AS dbnb_none"
    fixed = []
    for column in columns:
        refusal = _refusal(db, nothing, column)
        if refusal is not None and column.kind not in _BY_TEXT:
            column = replace(column, kind="other")
            refusal = _refusal(db, nothing, column)
        if refusal is not None:
            raise QueryError(
                f"{db.name}: cannot profile column {column.name!r} of {table} "
                f"({column.type_name or 'no type'}): {refusal}"
            ) from None
        fixed.append(column)
    if fixed == columns:  # every column passes over no rows: it failed on a value
        raise QueryError(f"{db.name}: cannot profile {table}: {reason}") from None
    columns[:] = fixed
    return _aggregate_row(db, where, columns)


def _aggregate_row(db: Viewed, where: str, columns: list[Column]) -> pd.Series:
    return db.query(profile_sql(db, where, columns), progress=False).iloc[0]


def _refusal(db: Viewed, nothing: str, column: Column) -> str | None:
    """Why the database refuses ``column``'s aggregates (over no rows), or None."""
    try:
        db.query(profile_sql(db, nothing, [column]), progress=False)
    except QueryError as error:
        return sources.reason(db, error)
    return None


def _sampled(db: Viewed, where: str, columns: list[Column]) -> list[Column]:
    """The columns, each marked to be grouped where the first ``SAMPLE_ROWS`` rows hold
    few distinct values: a statement reading those rows only. Grouping by a hash counts
    few distinct values three times as fast as sorting them, and many three to eight
    times as slowly (PostgreSQL and MariaDB, two million rows); either count is exact,
    so a sample that misleads costs time, never a wrong number."""
    if not columns:
        return columns
    backend = db.backend
    counts = ", ".join(
        f"count({_value(db, column)}) AS n{index}, count(DISTINCT "
        f"{backend.comparable(_value(db, column), column.kind)}) AS d{index}"
        for index, column in enumerate(columns)
    )
    sample = f"(SELECT * FROM {where} LIMIT {SAMPLE_ROWS}) AS dbnb_sample"
    try:
        row = db.query(f"SELECT {counts} FROM {sample}", progress=False).iloc[0]
    except QueryError:
        return columns  # a type the aggregates refuse: _aggregates says which
    return [
        replace(column, grouped=int(row[f"d{index}"]) * 2 <= int(row[f"n{index}"]))
        for index, column in enumerate(columns)
    ]


def _value(db: Viewed, column: Column) -> str:
    quoted = identifiers.quote(db.engine.dialect, column.name)
    return quoted if column.width is None else db.backend.within_width(quoted, column.width)


def _measured(db: Viewed, where: str, columns: list[Column]) -> list[Column]:
    """The columns, each of a type the backend counts faster cut to a width
    (``long_text``: MariaDB's TEXT and JSON) with its longest value's width: one scan
    reading lengths only, where such a column is there."""
    backend = db.backend
    long = [index for index, column in enumerate(columns) if backend.long_text(column.type_name)]
    if not long:
        return columns
    dialect = db.engine.dialect
    widths = ", ".join(
        f"max(char_length({identifiers.quote(dialect, columns[index].name)})) AS w{index}"
        for index in long
    )
    try:
        row = db.query(f"SELECT {widths} FROM {where}", progress=False).iloc[0]
    except QueryError:
        return columns  # a type the aggregates refuse: _aggregates says which
    measured = list(columns)
    for index in long:
        width = row[f"w{index}"]
        if not pd.isna(width):
            measured[index] = replace(columns[index], width=int(width))
    return measured


def profile_sql(db: Viewed, where: str, columns: list[Column]) -> str:
    """The one aggregate statement: ``total`` and ``c{i}_{stat}`` for each column.

    A column of many distinct values counts them sorted (``count(DISTINCT)``), its
    ``top`` the smallest value where every value is distinct (no value is more
    frequent), else the most frequent value of a subquery grouping them, which the
    database runs only then (a CASE over the aggregates' one row): grouping two
    million distinct values took MariaDB 16 s, and count(DISTINCT) in the CASE itself
    would be counted twice (MariaDB does). The columns of few distinct values
    (``grouped``) are grouped, joined: their groups' count and the most frequent, all
    in one scan where the database can (``grouped_counts``), else a subquery each; their
    count, min and max come from those few groups too, not from every row again.
    """
    backend = db.backend
    items = ["count(*) AS total"]
    tops = []
    keys: list[tuple[int, str, str]] = []  # grouped columns: index, counted, value
    for index, column in enumerate(columns):
        value = _value(db, column)
        # Counted and ordered as Python compares the values read: text as str, not by
        # a case-insensitive collation; a value with no order or equality of its own
        # (json) by its text.
        counted = backend.comparable(value, column.kind)
        prefix = f"c{index}_"
        if column.kind == "number":
            items.append(f"{backend.mean(value)} AS {prefix}mean")
        if column.grouped:  # its count, min and max from its few groups, not each row
            keys.append((index, counted, value))
            continue
        items.append(f"count({value}) AS {prefix}count")
        # The smallest (text, for json): the top when every value is distinct.
        items.append(f"min({counted}) AS {prefix}min")
        if column.kind not in _BY_TEXT:
            items.append(f"max({counted}) AS {prefix}max")
        items.append(f"count(DISTINCT {counted}) AS {prefix}distinct")
        grouped = backend.most_frequent(counted, counted, where)
        tops.append(
            f"CASE WHEN {prefix}distinct = {prefix}count THEN {prefix}min "
            f"ELSE {grouped} END AS {prefix}top"
        )
    joins = []
    together = backend.grouped_counts([counted for _, counted, _ in keys], where) if keys else None
    for number, (index, counted, value) in enumerate(keys):
        if together is not None:
            group = f"dbnb_groups.g{number}_"
        else:
            group = f"dbnb_g{index}."
            grouped = _most_frequent_group(counted, value, where)
            joins.append(f"LEFT JOIN ({grouped}) AS dbnb_g{index} ON 1 = 1")
        tops.append(f"COALESCE({group}d, 0) AS c{index}_distinct, {group}v AS c{index}_top")
        tops.append(f"COALESCE({group}n, 0) AS c{index}_count")
        tops.append(f"{group}lo AS c{index}_min, {group}hi AS c{index}_max")
    if together is not None:
        joins.append(f"CROSS JOIN ({together}) AS dbnb_groups")
    stats = f"SELECT {', '.join(items)} FROM {where}"
    return (
        f"SELECT dbnb_stats.*, {', '.join(tops) or '0 AS dbnb_none'} "
        f"FROM ({stats}) AS dbnb_stats{''.join(' ' + join for join in joins)}"
    )


def _most_frequent_group(counted: str, value: str, where: str) -> str:
    """One row: ``v`` the most frequent non-NULL value (of equals the first in order),
    ``d`` how many distinct values there are, ``n`` how many non-NULL values, ``lo``
    and ``hi`` the smallest and largest; no row when every value is NULL."""
    # first_value over the groups in order, not min() OVER (): MariaDB computes that
    # again for each row of the frame (26 s for five thousand groups).
    return (
        "SELECT v, d, n, lo, hi FROM (SELECT v, count(*) OVER () AS d, sum(m) OVER () AS n, "
        "first_value(v) OVER (ORDER BY v) AS lo, first_value(v) OVER (ORDER BY v DESC) AS hi, "
        "m FROM "
        f"(SELECT {counted} AS v, count(*) AS m FROM {where} WHERE {value} IS NOT NULL "
        f"GROUP BY {counted}) AS dbnb_groups) AS dbnb_counted ORDER BY m DESC, v LIMIT 1"
    )


def kind_of(column_type: Any, type_name: str | None = None, table: TypeTable | None = None) -> str:
    """How a column is summarized: number, bool, text, enum, time, bytes, json or other
    (counted by its text). Its database's type ``table`` (its backend's) says, by the
    type as spelled (MariaDB's TINYINT(1) is a boolean, YEAR a number, PostgreSQL's money
    a number); else its SQLAlchemy type's rule (``dbnb.typetable``); an enum is always an
    enum (its name is the user's own, whatever type it shares it with)."""
    rule = sql_rule(column_type)
    if table is not None and type_name and (rule is None or rule.category != typetable.ENUM):
        found = table.rule(type_name)
        if found is not None:
            return found.category
    return typetable.OTHER if rule is None else rule.category


def _typed(values: list[Any], dtype: Any, kind: str) -> list[Any]:
    """min, max and top as ``db.query`` types the column: an aggregate's value may come
    back untyped on SQLite (a timestamp as text, a NUMERIC(p, s) as a float, a boolean
    as 0/1), JSON as its text."""
    typed: list[Any] = []
    for value in values:
        if _missing(value):
            typed.append(None)
        elif kind == "bool":
            typed.append(bool(value))
        elif kind == "json":
            typed.append(_parsed(value))
        elif dtype is None or str(dtype) == "object" or kind not in ("time", "number"):
            typed.append(value)
        else:
            try:
                typed.append(pd.Series([value], dtype=object).astype(dtype).iloc[0])
            except Exception:  # a value the dtype cannot hold stays as it is
                typed.append(value)  # (MariaDB's TIME past a day: a timedelta)
    return typed


def _parsed(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _columns(db: Viewed, schema: str | None, table: str) -> list[Column]:
    """The columns of ``table``: name, type as the database spells it, kind; none when
    the dialect cannot reflect them (duckdb-engine's reflection has gaps)."""
    types = db.backend.type_table
    with db.connection() as connection:
        try:
            reflected = sqlalchemy.inspect(connection).get_columns(table, schema=schema)
        except exc.SQLAlchemyError:
            connection.rollback()
            return []
        dialect = connection.dialect
        found = []
        for column in reflected:
            name = _type_name(column["type"], dialect)
            kind = kind_of(column["type"], name, types)
            found.append(Column(column["name"], name, kind))
        return found


def _as_read(columns: list[Column], shapes: pd.DataFrame) -> list[Column]:
    """Each column's kind as ``db.query`` reads it (``typetable.category_of_dtype``),
    where that says more than its type's rule: booleans whatever the type; a type no
    table knows (an extension's) by the dtype it reads as, a number or a time; text
    read as Python values is JSON (MariaDB's JSON, a LONGTEXT its table checks)."""
    found = []
    for column in columns:
        kind = column.kind
        dtype = shapes[column.name].dtype if column.name in shapes else None
        if dtype is not None and kind != "bool":
            read_as = category_of_dtype(dtype)
            if read_as == "bool" or (kind == "other" and read_as in ("number", "time")):
                kind = read_as
            elif kind in ("text", "enum") and str(dtype) == "object":
                kind = "json"
        found.append(Column(column.name, column.type_name, kind))
    return found


def _columns_of(shapes: pd.DataFrame) -> list[Column]:
    """The columns as a read of no rows types them, where the catalog says nothing."""
    return [
        Column(str(column), str(shapes[column].dtype), category_of_dtype(shapes[column].dtype))
        for column in shapes.columns
    ]


def _type_name(column_type: Any, dialect: Any) -> str:
    try:
        return str(column_type.compile(dialect=dialect))
    except exc.CompileError:
        return ""


def _locate(db: Viewed, table: str) -> tuple[str | None, str]:
    """The schema and name of ``table``; ``schema.table`` split when no table has the dots."""
    with db.connection() as connection:
        inspector = sqlalchemy.inspect(connection)
        if inspector.has_table(table):
            return None, table
        head, dot, tail = table.partition(".")
        if dot and inspector.has_table(tail, schema=head):
            return head, tail
        known = inspector.get_table_names() + inspector.get_view_names()
    if table in known:  # a view
        return None, table
    close = difflib.get_close_matches(table, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"tables: {', '.join(sorted(known))}"
    raise QueryError(f"{db.name}: no table {table!r} to profile; {hint}")
