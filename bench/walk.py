"""The walk of a query's SQL text through dbnb, and how often it is scanned.

    .venv/bin/python bench/walk.py [POSTGRESQL_URL] [--calls]

For one new query on each read path (SQLite in a temporary file; PostgreSQL too when
a URL is given), it runs ``db.query(sql, params)`` under a profiler and prints:

- the walk: each dbnb function that receives the SQL text itself (an argument equal
  to it), in call order, collapsed to the modules ("rooms") it passes through, each
  with its layer (its index in the import-linter ``layers`` contract of
  ``pyproject.toml``: 0 is the top, a larger number a lower layer);
- calls: how many functions receive the text (each returns once: the returns);
- moves: how often the text goes from one room to another;
- climbs: how often the next function to receive it is in a higher layer than the
  one before: the text went back up to be handed down again;
- scans: calls of the scanner (``sqlscan.tokens``), of the query's own text and of
  others (the text a driver is sent, checked by the engine's allow-list), by rules.

A value that carries the text (a parsed statement) is not the text: after
``dbnb.sql.prepared.prepare`` the steps read it, and the walk ends there.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import tempfile
import tomllib
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

import dbnb
from dbnb.sql import sqlscan

ROOT = Path(dbnb.__file__).resolve().parent
CONTRACT = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
LAYERS: list[str] = CONTRACT["tool"]["importlinter"]["contracts"][0]["layers"]


def layer(module: str) -> int | None:
    """The layer of ``module``: the index of the longest contract entry it is in."""
    best: tuple[int, int] | None = None
    for index, entry in enumerate(LAYERS):
        for name in (part.strip() for part in entry.split("|")):
            if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > best[1]
            ):
                best = (index, len(name))
    return None if best is None else best[0]


def module_of(code: types.CodeType) -> str:
    relative = Path(code.co_filename).resolve().relative_to(ROOT.parent).with_suffix("")
    return ".".join(relative.parts).removesuffix(".__init__")


def walk(db: Any, sql: str, params: dict[str, Any], **options: Any) -> tuple[list[str], list[str]]:
    """The functions that received ``sql`` (module.name, in call order) and the scans."""
    calls: list[str] = []
    seen: set[types.FrameType] = set()

    def profile(frame: types.FrameType, event: str, _arg: Any) -> None:
        if event != "call" or frame in seen:
            return  # a generator resumed is the same call
        seen.add(frame)
        code = frame.f_code
        if not code.co_filename.startswith(str(ROOT)):
            return
        arguments = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(_is_text(frame.f_locals.get(name), sql) for name in arguments):
            calls.append(f"{module_of(code)}:{code.co_qualname}")

    scans: list[str] = []
    tokens = sqlscan.tokens

    def counted(text: str, rules: Any) -> Iterator[sqlscan.Token]:
        scans.append(f"{'its text' if text == sql else 'another'} by {rules.name}")
        return tokens(text, rules)

    sqlscan.tokens = counted  # type: ignore[assignment]
    sys.setprofile(profile)
    try:
        db.query(sql, params, **options)
    finally:
        sys.setprofile(None)
        sqlscan.tokens = tokens  # type: ignore[assignment]
    return calls, scans


def _is_text(value: Any, sql: str) -> bool:
    return isinstance(value, str) and value == sql


def report(label: str, db: Any, table: str, show_calls: bool, **options: Any) -> None:
    sql = f"SELECT id, name FROM {table} WHERE id = :id /* {uuid.uuid4().hex} */"
    calls, scans = walk(db, sql, {"id": 1}, **options)
    modules = [call.split(":")[0] for call in calls]
    rooms = list(dict.fromkeys(modules))
    path = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
    climbs = sum(
        1
        for before, after in itertools.pairwise(path)
        if (b := layer(before)) is not None and (a := layer(after)) is not None and a < b
    )
    print(
        f"{label}: {len(calls)} calls, {len(rooms)} rooms, {len(path) - 1} moves, {climbs} climbs"
    )
    print("  " + " > ".join(f"{m.removeprefix('dbnb.')}[{layer(m)}]" for m in path))
    if show_calls:
        print("\n".join(f"    {call}" for call in calls))
    counted = collections.Counter(scans)
    print(f"  scans: {len(scans)}: " + ", ".join(f"{n} {what}" for what, n in counted.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("postgresql", nargs="?", help="a PostgreSQL URL to walk there too")
    parser.add_argument("--calls", action="store_true", help="list every call too")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dbnb-walk-"))
    databases = {"sqlite": dbnb.connect(f"sqlite:///{folder / 'walk.db'}")}
    if args.postgresql:
        databases["postgresql"] = dbnb.connect(args.postgresql)
    table = f"dbnb_walk_{uuid.uuid4().hex[:8]}"  # the server's database may be shared
    for name, db in databases.items():
        with db.session(write=True) as session:
            session.execute(text(f"CREATE TABLE {table} (id INTEGER, name TEXT)"))
            session.execute(text(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')"))
        try:
            report(f"{name}, columnar", db, table, args.calls)
            report(f"{name}, guarded (max_rows)", db, table, args.calls, max_rows=10)
        finally:
            with db.session(write=True) as session:
                session.execute(text(f"DROP TABLE {table}"))


if __name__ == "__main__":
    main()
