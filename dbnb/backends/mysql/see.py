"""What ``dbnb.see`` asks of MariaDB: ``EXPLAIN FORMAT=JSON`` (``ANALYZE FORMAT=JSON``
when analyzed) and its summary, bins and quartiles in double precision, text
compared byte-wise rather than by the column's (case-insensitive) collation.

MySQL spells two of these differently: its analyzed plan is ``EXPLAIN ANALYZE``
(``ANALYZE FORMAT=JSON`` is a syntax error there) and its binary NO PAD collation
is ``utf8mb4_0900_bin``. Only MariaDB runs on dbnb's machines, so MariaDB's
spellings are the ones written and tested here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from dbnb.backends import base

# Text compared code point by code point, as Python compares str, and without
# PAD SPACE ('a' and 'a ' differ): MariaDB's default collations are
# case-insensitive and would count 'EU' and 'eu' as one value.
BINARY_TEXT = "utf8mb4_nopad_bin"


def explain_statement(sql: str, analyze: bool) -> str | None:
    """EXPLAIN FORMAT=JSON, or ANALYZE FORMAT=JSON: run inside the read-only
    transaction, where the server refuses a write being analyzed (error 1792)."""
    return f"ANALYZE FORMAT=JSON {sql}" if analyze else f"EXPLAIN FORMAT=JSON {sql}"


def plan_text(rows: Sequence[Sequence[Any]]) -> str:
    """The one JSON document the server returns, indented as it sends it."""
    return "\n".join(str(row[0]) for row in rows)


def plan_summary(plan: str) -> str:
    """The estimated rows of the outermost join (each table's ``rows`` times its
    ``filtered`` share) and, when analyzed, the rows it gave and the time it took."""
    try:
        document = json.loads(plan)
    except ValueError:
        return "no cost estimate"
    block = document.get("query_block", {}) if isinstance(document, dict) else {}
    tables = list(_joined_tables(block))
    if not tables:
        return "no cost estimate"
    estimate = 1.0
    for table in tables:
        estimate *= float(table.get("rows", 0)) * float(table.get("filtered", 100)) / 100
    parts = [f"estimated {round(estimate):,} rows"]
    last = tables[-1]
    if "r_rows" in last:  # analyzed: the last table's rows, over all its loops, kept
        loops = float(last.get("r_loops", 1))
        kept = float(last.get("r_filtered", 100)) / 100
        parts.append(f"actual {round(loops * float(last['r_rows'] or 0) * kept):,} rows")
    if "r_total_time_ms" in block:
        parts.append(f"execution {float(block['r_total_time_ms']):.3f} ms")
    return "; ".join(parts)


def _joined_tables(node: Any) -> Iterator[dict[str, Any]]:
    """The tables of the outermost nested loop, in join order, under any sort or
    temporary table wrapping them (subqueries' own blocks are not descended into)."""
    if isinstance(node, list):
        for item in node:
            yield from _joined_tables(item)
        return
    if not isinstance(node, dict):
        return
    if "table_name" in node:
        yield node
        return
    for key, child in node.items():
        if key in ("table", "nested_loop", "filesort", "read_sorted_file", "temporary_table"):
            yield from _joined_tables(child)


def histogram_bin(value: str, low: str, high: str, bins: int) -> str:
    """The generic bin in DOUBLE arithmetic: MariaDB's DECIMAL division keeps only
    four more digits (div_precision_increment), which can round a value into the
    next bin where numpy's would not."""

    def as_double(expression: str) -> str:
        return f"CAST({expression} AS DOUBLE)"

    return base.bin_by_floor(as_double(value), as_double(low), as_double(high), bins, _floor)


def _floor(expression: str) -> str:
    return f"FLOOR({expression})"


def quartiles(value: str, source: str) -> str:
    """Exact quartiles by rank (MariaDB's percentile_cont is a window function only),
    the values as DOUBLE so the interpolation is numpy's."""
    return base.quartiles_by_rank(f"CAST({value} AS DOUBLE)", source, _floor)


def most_frequent(value: str, ordered: str, source: str) -> str:
    """Grouped by sorting (``SQL_BIG_RESULT``), not in a temporary table of groups: the
    profile asks this of a column of many distinct values, where sorting them once
    took MariaDB half the time (a hundred thousand values in two million rows)."""
    grouped = base.most_frequent(value, ordered, source)
    return grouped.replace("(SELECT ", "(SELECT SQL_BIG_RESULT ", 1)


def epoch_seconds(value: str) -> str:
    """Microseconds from 1970 to the value, in seconds: UNIX_TIMESTAMP is 0 before 1970
    and reads a DATETIME in the session's time zone; a TIMESTAMP is read in UTC, dbnb's
    sessions' time zone."""
    return f"TIMESTAMPDIFF(MICROSECOND, TIMESTAMP '1970-01-01 00:00:00', {value}) / 1e6"


def mean(value: str) -> str:
    """In DOUBLE: avg of a DECIMAL keeps only four more digits than its scale."""
    return f"avg(CAST({value} AS DOUBLE))"


def comparable(value: str, kind: str) -> str:
    """Text (an ENUM's and a SET's too) in code point order, whatever the column's
    character set and collation; JSON and other kinds as their text, compared alike:
    as CHAR alone it takes the connection's case-insensitive collation, which counted
    ``{"a": "X"}`` and ``{"a": "x"}`` as one document."""
    if kind in ("text", "enum"):
        return f"CONVERT({value} USING utf8mb4) COLLATE {BINARY_TEXT}"
    if kind in ("json", "other"):
        return f"CAST({value} AS CHAR CHARACTER SET utf8mb4) COLLATE {BINARY_TEXT}"
    return value


# A TEXT or JSON value is a BLOB to MariaDB's count(DISTINCT) and GROUP BY, which then
# work in a temporary table on disk: two million short names took 9.5 s, and 1.6 s cut
# to a VARCHAR of their longest one's width (``within_width``). Wider than this, the
# cut saves nothing (an in-memory row holds the whole width).
_WIDEST = 512


def long_text(type_name: str) -> bool:
    """TEXT of any size and JSON (a LONGTEXT): counted faster cut to a width."""
    name = type_name.split("(", 1)[0].strip().upper()
    return name in ("TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "JSON")


def within_width(value: str, width: int) -> str:
    """``value`` as a VARCHAR of ``width`` characters: no value is cut when ``width`` is
    the longest value's (the profile measures it first); past ``_WIDEST``, as it is."""
    if not 0 < width <= _WIDEST:
        return value
    return f"CAST({value} AS CHAR({int(width)}) CHARACTER SET utf8mb4)"
