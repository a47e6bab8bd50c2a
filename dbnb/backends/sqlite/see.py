"""What ``dbnb.see`` asks of SQLite: its plan as a tree, bins and quartiles without
FLOOR or percentile functions (neither is in every SQLite build)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from dbnb.backends import base


def explain_statement(sql: str, analyze: bool) -> str | None:
    """EXPLAIN QUERY PLAN; SQLite has no EXPLAIN ANALYZE, so ``analyze`` runs ``sql``."""
    return None if analyze else f"EXPLAIN QUERY PLAN {sql}"


def plan_text(rows: Sequence[Sequence[Any]]) -> str:
    """EXPLAIN QUERY PLAN's rows ``(id, parent, notused, detail)`` drawn as the sqlite3
    shell draws them: each step under its parent."""
    children: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        children[int(row[1])].append((int(row[0]), str(row[3])))
    lines = ["QUERY PLAN"]

    def draw(parent: int, indent: str) -> None:
        steps = children.get(parent, [])
        for number, (step, detail) in enumerate(steps):
            last = number == len(steps) - 1
            lines.append(f"{indent}{'`--' if last else '|--'}{detail}")
            draw(step, indent + ("   " if last else "|  "))

    draw(0, "")
    return "\n".join(lines)


def plan_summary(plan: str) -> str:
    """How many steps scan a whole table and how many search an index: SQLite
    estimates no cost, and a SCAN of a big table is what a plan is read for."""
    details = [line.lstrip("|`- ") for line in plan.splitlines()[1:]]
    scans = sum(detail.startswith("SCAN") for detail in details)
    searches = sum(detail.startswith("SEARCH") for detail in details)
    counts = ", ".join(
        [
            _count(scans, "full scan", "full scans"),
            _count(searches, "index search", "index searches"),
        ]
    )
    return f"{_count(len(details), 'step', 'steps')}: {counts} (no cost estimate)"


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _floor(expression: str) -> str:
    # Every value binned or ranked here is >= 0, where truncation is the floor.
    return f"CAST({expression} AS INTEGER)"


def histogram_bin(value: str, low: str, high: str, bins: int) -> str:
    return base.bin_by_floor(value, low, high, bins, _floor)


def quartiles(value: str, source: str) -> str:
    return base.quartiles_by_rank(value, source, _floor)


def most_frequent(value: str, ordered: str, source: str) -> str:
    return base.most_frequent(value, ordered, source)


def epoch_seconds(value: str) -> str:
    """Dates and timestamps are stored as ISO text: julianday reads it (and an offset)."""
    return f"(julianday({value}) - 2440587.5) * 86400.0"


def comparable(value: str, kind: str) -> str:
    """Values as they are: SQLite's BINARY collation orders text as Python does; JSON
    and other kinds as their text."""
    return base.as_text(value, kind, "TEXT")
