"""Each database's type table (``dbnb/backends/NAME/typetable.py``, its backend's
``type_table``), found by the backend's name, and the manual's dtype table generated
from dbnb's own.

    python -m dbnb.backends.typetables                           # the dtype table, as markdown
    python -m dbnb.backends.typetables docs/reference/types.md   # that table rewritten there

``tests/test_typetable.py`` checks the manual's table (docs/reference/types.md) is this one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import exc

from dbnb.backends.registry import backend_for
from dbnb.typetable import TypeTable, dtype_text, markdown, sql_rule

# dbnb's own databases, in the manual's order.
_README = ("postgresql", "sqlite", "mysql", "spark")


def for_backend(name: str) -> TypeTable | None:
    """The type table of the database ``name`` (a backend's or dialect's), or None."""
    return backend_for(name).type_table


def readme_table() -> str:
    """The manual's dtype table, from each of dbnb's own databases' tables."""
    tables = [for_backend(name) for name in _README]
    return markdown([table for table in tables if table is not None])


def spelled(sql_type: Any, dialect: Any) -> str | None:
    """A column type as ``dialect`` spells it in DDL (``NUMERIC(12, 2)``), or None."""
    try:
        return str(sql_type.compile(dialect=dialect))
    except (exc.SQLAlchemyError, TypeError, AttributeError, NotImplementedError):
        return None  # a type SQLAlchemy reflected but cannot spell (NullType)


def column_dtype(backend: str, sql_type: Any, dialect: Any) -> str | None:
    """The pandas dtype a table's column reads as: its database's rule for the type as
    spelled, else SQLAlchemy's type's rule; None when its values decide."""
    table = for_backend(backend)
    name = spelled(sql_type, dialect)
    if table is not None and name:
        found = table.dtype(name)
        if found is not None:
            return found
    rule = sql_rule(sql_type)
    arrow = rule.arrow_type(sql_type) if rule is not None else None
    return None if arrow is None else dtype_text(arrow)


# The manual's dtype table starts with this header's first cell.
_HEADER = "| PostgreSQL | SQLite"


def replaced(readme: str, table: str) -> str:
    """``readme`` with its dtype table as ``table``."""
    lines = readme.splitlines(keepends=True)
    start, end = _span(lines)
    return "".join([*lines[:start], table, *lines[end:]])


def current(readme: str) -> str:
    """The dtype table ``readme`` holds."""
    lines = readme.splitlines(keepends=True)
    start, end = _span(lines)
    return "".join(lines[start:end])


def _span(lines: list[str]) -> tuple[int, int]:
    """Where the dtype table is: from its header to the first blank line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(_HEADER))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return start, end


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbnb.backends.typetables",
        description="The manual's dtype table, generated from each database's type table.",
        epilog="example: python -m dbnb.backends.typetables docs/reference/types.md",
    )
    parser.add_argument("readme", nargs="?", help="rewrite the table in this file")
    args = parser.parse_args(argv)
    table = readme_table()
    if args.readme is None:
        sys.stdout.write(table)
        return 0
    path = Path(args.readme)
    path.write_text(replaced(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
