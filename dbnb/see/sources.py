"""What a plot or a profile reads: a table's name, or a query, as SQL's FROM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbnb.backends.registry import backend_for
from dbnb.errors import DbnbError, QueryError, without_place
from dbnb.sql import identifiers, sqlscan

if TYPE_CHECKING:
    from dbnb.see.backend import Viewed

# The first words of a source that is a query rather than a table's name.
_QUERY_WORDS = {"SELECT", "WITH", "VALUES", "TABLE"}


def is_query(source: str, dialect: str) -> bool:
    words = sqlscan.leading_keywords(source, backend_for(dialect).lexical_rules, 1)
    return bool(words) and words[0] in _QUERY_WORDS and len(source.split()) > 1


def from_clause(db: Viewed, source: str) -> str:
    """``source`` as the FROM of an aggregate: a query becomes a subquery (its rows are
    aggregated by the database, never fetched), a name is quoted (``schema.table`` too)."""
    source = source.strip()
    if not source:
        raise DbnbError(f"{db.name}: name a table or write a query to read from")
    dialect = db.engine.dialect
    if is_query(source, dialect.name):
        return f"({source.rstrip().rstrip(';')}) AS dbnb_source"
    return quote_table(db, source)


def quote_table(db: Viewed, table: str) -> str:
    dialect = db.engine.dialect
    schema, dot, name = table.rpartition(".")
    if dot and schema:
        return f"{identifiers.quote_schema(dialect, schema)}.{identifiers.quote(dialect, name)}"
    return identifiers.quote(dialect, table)


def quote_column(db: Viewed, column: str) -> str:
    if not column or not column.strip():
        raise DbnbError(f"{db.name}: name the column to plot")
    return identifiers.quote(db.engine.dialect, column)


def label(source: str, width: int = 40) -> str:
    """A source as a title names it: a table by its name, a query shortened."""
    flat = " ".join(source.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def reason(db: Viewed, error: QueryError) -> str:
    """The database's message for a statement dbnb wrote, without the connection's name
    and without the place in that statement it points to."""
    message = str(error).removeprefix(f"{db.name}: ")
    return without_place(message)
