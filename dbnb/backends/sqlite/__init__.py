"""SQLite's backend: everything dbnb does differently on SQLite, as the ``Backend``
subclass ``SQLite``.

``guards.py``  read-only enforced by the database, statement_timeout and Ctrl-C
``adbc.py``    columnar reads through ADBC; ``types.py`` the guarded path's types
``bulk.py``    bulk writes
``see.py``     the SQL of plots, profiles and plans (dbnb.see)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import types as sqltypes

from dbnb.backends.base import Backend
from dbnb.backends.sqlite import guards, see
from dbnb.backends.sqlite.binds import BIND_RULES
from dbnb.backends.sqlite.lexical import LEXICAL_RULES
from dbnb.backends.sqlite.statements import READ_RULES
from dbnb.backends.sqlite.typetable import TABLE
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import EngineArguments
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked


class SQLite(Backend):
    """SQLite, through Python's sqlite3 (and ADBC for columnar reads of files)."""

    name = "sqlite"
    read_rules = READ_RULES
    type_table = TABLE  # its types as it spells them (typetable.py)
    lexical_rules = LEXICAL_RULES  # how its SQL text reads: literals, comments, placeholders
    bind_rules = BIND_RULES  # how its driver takes the guarded path's values
    # What its columns hold: INTEGER 8 bytes, REAL 8, and no NaN (stored as NULL). SQLite
    # declares DateTime with and without time zone alike, and reads a DATETIME as UTC: an
    # aware timestamp is stored as its UTC time in either.
    write_rules = WriteRules("SQLite", keeps_nan=False, utc_timestamps=(sqltypes.DateTime,))
    async_driver = "sqlite+aiosqlite"
    interrupted = "aborted by SQLite"  # its progress handler, in this process
    alters_by_copying = True  # its ALTER TABLE cannot change a column's type or constraints

    # --- the engine -------------------------------------------------------------------

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """sqlite3's: the file's folder created (read-only files opened read-only by the
        OS); connections used by whichever thread the pool hands them to; an in-memory
        database unpooled and outside the budget (another connection, another database)."""
        from dbnb.backends.sqlite import files

        url = files.sqlite_url(arguments.url, readonly=config.readonly)
        # The pool hands connections to whichever thread asks; sessions never
        # share one between threads at the same time.
        arguments.connect_args.setdefault("check_same_thread", False)
        options, budget = arguments.options, arguments.budget
        if files.is_memory(url):
            # One in-memory database per connection would lose data between
            # sessions; the default pool for it keeps one per thread, sized by nobody.
            for option in ("pool_size", "max_overflow", "pool_timeout"):
                options.pop(option, None)
            budget = None
        return dataclasses.replace(arguments, url=url, options=options, budget=budget)

    install_guards = staticmethod(guards.install_guards)
    install_limits = staticmethod(guards.install_limits)
    refusal_reason = staticmethod(guards.refusal_reason)
    limit_reached = staticmethod(guards.limit_reached)

    # --- reads and their types ------------------------------------------------------------

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """ADBC's SQLite driver with dbnb's extension (``adbc.py``), for SQLite files."""
        from dbnb.backends.sqlite import adbc

        return adbc.SQLiteColumnar(config) if adbc.serves(config) else None

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's declared type, read as a ``select()`` reads it (``types.py``);
        sqlite3 describes no types of a result (``result_kinds``: none)."""
        from dbnb.backends.sqlite import types

        return list(types.declared_kinds(result, count))

    # --- writes ---------------------------------------------------------------------------

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """``executemany`` of SQLAlchemy's stored forms, upserts by ON CONFLICT (``bulk.py``)."""
        from dbnb.backends.sqlite import bulk

        return bulk.SQLiteWriter(connection, checked, sent)

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """``sqlite3_interrupt``: the statement ends at its engine's next step (thread-safe)."""
        from dbnb.backends.sqlite import bulk

        bulk.interrupt(connection)

    # --- health ---------------------------------------------------------------------------

    def server_name(self, dialect: Dialect) -> str | None:
        """Its name as health reports its version."""
        return "SQLite"

    def write_probe(self, table: str) -> str | None:
        """A write the read-only transaction must refuse: health's proof of the guard."""
        return f"CREATE TEMP TABLE {table} (x INTEGER)"

    # --- the SQL of plots, profiles and plans (``see.py``) -----------------------------

    explain_statement = staticmethod(see.explain_statement)
    plan_text = staticmethod(see.plan_text)
    plan_summary = staticmethod(see.plan_summary)
    histogram_bin = staticmethod(see.histogram_bin)
    quartiles = staticmethod(see.quartiles)
    most_frequent = staticmethod(see.most_frequent)
    epoch_seconds = staticmethod(see.epoch_seconds)
    comparable = staticmethod(see.comparable)
