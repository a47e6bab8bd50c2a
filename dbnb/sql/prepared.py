"""A statement prepared to run: its text scanned once, its values bound once.

``prepare(sql, params, rules)`` is where every read of SQL text starts
(``Database.query`` and its chunks, ``query_to_parquet``, ``aquery``, ``%%db``
cells). It parses the text by the database's lexical rules (``sqltext.parse``:
its statement, placeholders, lists after IN and leading keywords, from one
scan) and binds the values by its bind rules (``binds.bind``), into one
immutable ``Prepared`` that each later step reads instead of the text:

- the columnar path: ``positional`` (the text with ``$n``/``?n``/``%s`` binds, or
  None: not one plain query) and ``refusal`` (what a read may not send, read
  from the same tokens; only a database's other readings scan it again);
- the guarded path, sync or async: ``executable()`` (``text()`` with lists after
  IN expanding, or the user's ``select()``) and ``values``;
- a cell: ``statement.keywords`` (its kind), ``statement.params``.

The rules are objects the database's home gives (``SqlRules``): this layer
never asks which database it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy.sql import Executable

from dbnb.sql import binds, params, readable, sqltext
from dbnb.sql.binds import BindRules
from dbnb.sql.readable import ReadRules, Refusal
from dbnb.sql.sqlscan import LexicalRules
from dbnb.sql.sqltext import Statement


@dataclass(frozen=True)
class SqlRules:
    """What the SQL layer knows of one database, from its home: how its text reads, how
    its driver binds values, and what a read may send (None: its server's guards alone)."""

    lexical: LexicalRules
    binds: BindRules
    reads: ReadRules | None = None


@dataclass(frozen=True)
class Prepared:
    """One statement, parsed and bound: what every step of a read reads."""

    # The statement as parsed (None: a select(), SQLAlchemy's own).
    statement: Statement | None
    # The values as the driver takes them, by :name (read-only).
    values: Mapping[str, Any]
    rules: SqlRules = field(repr=False)
    # The user's select(), when that is what was given.
    select: Executable | None = field(default=None, repr=False)

    @property
    def sql(self) -> str | None:
        """The statement's text (None: a select())."""
        return None if self.statement is None else self.statement.sql

    @property
    def kind(self) -> str:
        """Its first keyword, upper case ("SELECT"); "" for a select() or no keyword."""
        words = () if self.statement is None else self.statement.keywords
        return words[0] if words else ""

    def positional(self, rules: params.PositionalRules) -> params.Positional | None:
        """The text with positional binds for a columnar driver, or None when it is not
        one plain query (``params.to_positional``)."""
        if self.statement is None:
            return None
        return params.to_positional(self.statement, rules)

    def refusal(self) -> Refusal | None:
        """Why a read may not send it (``readable``), read from the statement's tokens;
        None if it may, or when the database has no read rules."""
        reads = self.rules.reads
        if self.statement is None or reads is None:
            return None
        return self.statement.derived(reads, lambda parsed: _refusal(parsed, reads))

    def executable(self) -> Executable:
        """What the guarded path executes: ``text()`` of the statement (lists after IN
        expanding, ``sqltext``), or the user's own ``select()``."""
        if self.statement is None:
            assert self.select is not None
            return self.select
        return self.statement.to_text(self.values, empty_as_array=self.rules.binds.arrays)


def _refusal(statement: Statement, reads: ReadRules) -> Refusal | None:
    return readable.refusal_of(statement.sql, statement.tokens, reads)


def prepare(
    sql: str | Executable | Statement,
    params: Mapping[str, Any] | None,
    rules: SqlRules,
    connection: str,
    *,
    how_to_bind: Callable[[Sequence[str]], str] | None = None,
) -> Prepared:
    """``sql`` parsed (unless a cell already split it into this ``Statement``) and
    ``params`` bound, by ``rules``; ``connection`` names the connection in an error,
    ``how_to_bind`` the way to give placeholders without a value theirs."""
    if isinstance(sql, str):
        statement: Statement | None = sqltext.parse(sql, rules.lexical)
    else:
        statement = sql if isinstance(sql, Statement) else None
    values = binds.bind(statement, params, rules.binds, connection, how_to_bind=how_to_bind)
    select = sql if statement is None and isinstance(sql, Executable) else None
    return Prepared(statement, MappingProxyType(values), rules, select)
