"""Names quoted for the SQL text dbnb writes itself: any character works (a backtick,
a double quote, a space, ``%``, ``:``, mixed case).

SQLAlchemy's ``IdentifierPreparer.quote`` quotes for SQL that SQLAlchemy compiles
itself: for drivers whose placeholders are ``%s`` (psycopg, PyMySQL) it also
doubles a ``%``, which its compilation expects. SQL that dbnb writes as text goes
either to ``text()``, which doubles every ``%`` in it once more, or to the driver
with no parameters (``COPY``, multi-row ``INSERT``), which leaves ``%%`` as two
characters: either way a column ``50%`` would be looked up as ``50%%``. Names
quoted here keep their ``%`` single.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.engine import Dialect


def quote(dialect: Dialect, name: str) -> str:
    """``name`` as an identifier, quoted where it must be, in ``dialect``'s quotes."""
    return _single_percents(dialect, dialect.identifier_preparer.quote(name))


def quote_schema(dialect: Dialect, schema: str) -> str:
    return _single_percents(dialect, dialect.identifier_preparer.quote_schema(schema))


def table(dialect: Dialect, table: Table) -> str:
    """``table``'s name, with its schema when it has one."""
    return _single_percents(dialect, dialect.identifier_preparer.format_table(table))


def _single_percents(dialect: Dialect, quoted: str) -> str:
    # Every % in the preparer's output is one it doubled: quoting leaves none alone.
    doubled = dialect.identifier_preparer._double_percents  # noqa: SLF001
    return quoted.replace("%%", "%") if doubled else quoted
