"""PostgreSQL's backend: everything dbnb does differently on PostgreSQL, as the
``Backend`` subclass ``PostgreSQL``.

``guards.py``  read-only enforced by the database, statement_timeout and Ctrl-C
``adbc.py``    columnar reads through ADBC; ``types.py`` the guarded path's types
``bulk.py``    bulk writes
``see.py``     the SQL of plots, profiles and plans (dbnb.see)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dbnb.backends.base import Backend
from dbnb.backends.postgresql import guards, see
from dbnb.backends.postgresql.binds import BIND_RULES
from dbnb.backends.postgresql.lexical import LEXICAL_RULES
from dbnb.backends.postgresql.statements import READ_RULES
from dbnb.backends.postgresql.typetable import TABLE
from dbnb.engine import connecting
from dbnb.engine.connecting import whole_seconds
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import EngineArguments
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked

# PostgreSQL reports this in pg_stat_activity, so a DBA can tell dbnb's sessions apart.
APPLICATION_NAME = "dbnb"


class PostgreSQL(Backend):
    """PostgreSQL, through psycopg (and ADBC for columnar reads)."""

    name = "postgresql"
    read_rules = READ_RULES
    type_table = TABLE  # its types as it spells them (typetable.py)
    lexical_rules = LEXICAL_RULES  # how its SQL text reads: literals, comments, placeholders
    bind_rules = BIND_RULES  # how its driver takes the guarded path's values
    # What its columns hold: integer is 4 bytes, real 4, and text no NUL character.
    write_rules = WriteRules(
        "PostgreSQL",
        integer=pa.int32(),
        small_integer=pa.int16(),
        single_float=True,
        text_holds_nul=False,
    )
    async_driver = "postgresql+psycopg_async"
    default_port = 5432
    lends_writing_engine = True  # jupysql's autocommit commits each statement
    interrupted = "cancelled on the server"  # psycopg's and ADBC's cancel request

    # --- the engine -------------------------------------------------------------------

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """psycopg's: dbnb's application_name; the connect timeout (``connecting``), a
        shorter one that also caps each statement (health checks); ``readonly: true``
        sessions read-only by default."""
        connect_args = arguments.connect_args
        connect_args.setdefault("application_name", APPLICATION_NAME)
        # An explicit connect_args: {connect_timeout: N} wins over the config's key.
        connect_args.setdefault("connect_timeout", whole_seconds(config.connect_timeout))
        settings = []
        if connect_timeout is not None:
            connect_args["connect_timeout"] = min(
                connect_timeout, whole_seconds(connecting.configured(config))
            )
            # ...and no statement on such a connection waits longer than that either.
            settings.append(f"-c statement_timeout={connect_timeout * 1000}")
        if config.readonly:
            # Belt and braces: even a transaction dbnb did not begin reads only.
            settings.append("-c default_transaction_read_only=on")
        if settings:
            existing = connect_args.get("options", "")
            connect_args["options"] = " ".join([existing, *settings]).strip()
        if config.read_role:
            # Each read transaction takes this role (guards._begin); writes keep the user's.
            arguments.options["execution_options"] = {guards.READ_ROLE_OPTION: config.read_role}
        return arguments

    def install_guards(self, engine: Engine, connection_name: str) -> None:
        """The guards (``guards.py``), and the loaders of reads that become frames
        (``types.py``: inet as text, as the columnar path reads it)."""
        from dbnb.backends.postgresql import types

        guards.install_guards(engine, connection_name)
        types.install_loaders(engine)

    install_limits = staticmethod(guards.install_limits)
    excess_privilege = staticmethod(guards.excess_privilege)
    refusal_reason = staticmethod(guards.refusal_reason)
    limit_reached = staticmethod(guards.limit_reached)

    # --- reads and their types ------------------------------------------------------------

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """ADBC's PostgreSQL driver, described first (``adbc.py``), for psycopg URLs."""
        from dbnb.backends.postgresql import adbc

        return adbc.PostgreSQLColumnar(config, self) if adbc.serves(config) else None

    def result_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """Each column's type as the server described it (``types.py``): exact."""
        from dbnb.backends.postgresql import types

        return list(types.result_kinds(result, count))

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """The types of the database's own (enums, composites: text), where a
        ``select()``'s types said nothing of them."""
        from dbnb.backends.postgresql import types

        return list(types.declared_kinds(result, count))

    # --- writes ---------------------------------------------------------------------------

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """A binary COPY from Arrow, upserts through MERGE (``bulk.py``)."""
        from dbnb.backends.postgresql import bulk

        return bulk.PostgreSQLWriter(connection, checked, sent)

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """psycopg's cancel request, from a connection of its own (thread-safe)."""
        from dbnb.backends.postgresql import bulk

        bulk.cancel(connection)

    # --- health ---------------------------------------------------------------------------

    def server_name(self, dialect: Dialect) -> str | None:
        """Its name as health reports its version."""
        return "PostgreSQL"

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
    grouped_counts = staticmethod(see.grouped_counts)
    comparable = staticmethod(see.comparable)
