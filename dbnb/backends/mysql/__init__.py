"""MariaDB's and MySQL's backend: everything dbnb does differently there, as the
``Backend`` subclass ``MySQL`` (registered as ``mysql`` and ``mariadb``).

``guards.py``      read-only enforced by the server, statement_timeout and Ctrl-C;
                   the driver (PyMySQL, aiomysql) and why
``statements.py``  what a read may not send, because the server would run it
``cancel.py``      Ctrl-C, and results closed early: ``KILL QUERY`` from a second connection
``reads.py``       fast reads: connectorx into Arrow, described first, read-only (MariaDB)
``types.py``       a result's types, from the server's column descriptions
``bulk.py``        bulk writes: multi-row ``INSERT``, ``ON DUPLICATE KEY UPDATE``
``reflection.py``  names with a backtick reflected as they are (SQLAlchemy keeps them doubled);
                   MariaDB's JSON (a LONGTEXT with a check) as JSON
``ddl.py``         generic ``DateTime``, ``Time``, ``Float``, ``Numeric()`` keep their digits
``see.py``         the SQL of plots, profiles and plans (dbnb.see): EXPLAIN FORMAT=JSON,
                   DOUBLE bins and quartiles, text compared byte-wise
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.pool import NullPool

from dbnb.backends.base import Backend
from dbnb.backends.mysql import cancel, guards, reflection, see
from dbnb.backends.mysql import ddl as ddl  # its rules are registered with SQLAlchemy
from dbnb.backends.mysql.binds import BIND_RULES
from dbnb.backends.mysql.lexical import LEXICAL_RULES
from dbnb.backends.mysql.statements import READ_RULES
from dbnb.backends.mysql.typetable import TABLE
from dbnb.engine import connecting
from dbnb.engine.connecting import whole_seconds
from dbnb.errors import ConfigError
from dbnb.write.columns import WriteRules

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine

    from dbnb.config import ConnectionConfig
    from dbnb.engine.backend import EngineArguments
    from dbnb.read.columnar import Columnar
    from dbnb.read.frames import Kind
    from dbnb.write.bulk import BulkWriter, Sent
    from dbnb.write.validate import Checked

# MySQL's protocol flag CLIENT_MULTI_STATEMENTS (pymysql.constants.CLIENT).
_MULTI_STATEMENTS = 1 << 16


class MySQL(Backend):
    """MariaDB and MySQL, through PyMySQL (and connectorx for MariaDB's columnar reads)."""

    name = "mysql"
    read_rules = READ_RULES
    type_table = TABLE  # its types as it spells them (typetable.py)
    lexical_rules = LEXICAL_RULES  # how its SQL text reads: literals, comments, placeholders
    bind_rules = BIND_RULES  # how its driver takes the guarded path's values
    # What its columns hold: INT 4 bytes, SMALLINT 2; DOUBLE has no NaN (nor infinities:
    # bulk.py names them); a TIMESTAMP is an instant (dbnb's sessions are in UTC), so it
    # takes aware timestamps, as it reads; a SET's value is its members joined by commas.
    write_rules = WriteRules(
        "MariaDB/MySQL",
        integer=pa.int32(),
        small_integer=pa.int16(),
        keeps_nan=False,
        tinyint1_is_bool=True,
        utc_timestamps=(sqltypes.TIMESTAMP,),
        member_sets=(mysql_types.SET,),
    )
    # PyMySQL's protocol code under asyncio.
    async_driver = "mysql+aiomysql"
    default_port = 3306
    interrupted = "killed on the server (KILL QUERY)"

    # --- the engine -------------------------------------------------------------------

    def engine_arguments(
        self, arguments: EngineArguments, config: ConnectionConfig, connect_timeout: int | None
    ) -> EngineArguments:
        """PyMySQL's: never several statements in one call; a connect timeout that also
        caps each read (health checks); ``readonly: true`` sessions read-only."""
        _no_read_role(config)
        connect_args = arguments.connect_args
        # Never several statements in one call (dbnb/backends/mysql/statements.py).
        connect_args["client_flag"] = int(connect_args.get("client_flag", 0)) & ~_MULTI_STATEMENTS
        # An explicit connect_args: {connect_timeout: N} wins over the config's key. PyMySQL's
        # covers the TCP connect only: guards.install_limits bounds the server's greeting.
        connect_args.setdefault("connect_timeout", whole_seconds(config.connect_timeout))
        is_async = arguments.url.drivername == self.async_driver
        if connect_timeout is not None:
            seconds = min(connect_timeout, whole_seconds(connecting.configured(config)))
            connect_args["connect_timeout"] = seconds
            if not is_async:  # aiomysql has no read_timeout
                connect_args["read_timeout"] = seconds
        if config.readonly:
            # Belt and braces: even a transaction dbnb did not begin reads only.
            connect_args["init_command"] = "SET SESSION TRANSACTION READ ONLY"
        if is_async:
            # aiomysql's connections belong to the event loop that opened them: a pooled one
            # is unusable, and cannot even be closed, once asyncio.run() has ended its loop.
            # So an async session opens its connection and closes it in its own loop.
            arguments.options.clear()
            arguments.options["poolclass"] = NullPool
        return arguments

    def driver_extra(self, name: str) -> tuple[str, str] | None:
        """PyMySQL (aiomysql for async sessions, connectorx for columnar reads) come
        with ``dbnb[mysql]``: a SQLite or PostgreSQL install does without their 200 MB."""
        return ("pymysql", "mysql")

    def install_guards(self, engine: Engine, connection_name: str) -> None:
        """The server's read-only guards (``guards.py``); and, as every dbnb engine is made
        here, its tables reflected with their names as they are (``reflection.py``)."""
        guards.install_guards(engine, connection_name)
        reflection.install(engine)
        from dbnb.backends.mysql import types  # reads in chunks described before they run

        types.install(engine)

    install_limits = staticmethod(guards.install_limits)
    excess_privilege = staticmethod(guards.excess_privilege)
    refusal_reason = staticmethod(guards.refusal_reason)
    limit_reached = staticmethod(guards.limit_reached)
    close_result = staticmethod(cancel.close_result)

    # --- reads and their types ------------------------------------------------------------

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """connectorx's reads into Arrow, described first (``reads.py``; MariaDB)."""
        from dbnb.backends.mysql import reads

        _no_read_role(config)
        return reads.MySQLColumnar(config, self.default_port) if reads.serves(config) else None

    def result_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """The server's description of each column (``types.py``), where it is exact."""
        from dbnb.backends.mysql import types

        return list(types.result_kinds(result, count))

    def declared_kinds(self, result: CursorResult[Any], count: int) -> list[Kind]:
        """The described type of a text or DATETIME column no ``select()`` typed."""
        from dbnb.backends.mysql import types

        return list(types.declared_kinds(result, count))

    # --- writes ---------------------------------------------------------------------------

    def bulk_writer(self, connection: Connection, checked: Checked, sent: Sent) -> BulkWriter:
        """Multi-row INSERTs, upserts by ON DUPLICATE KEY UPDATE (``bulk.py``)."""
        from dbnb.backends.mysql import bulk

        return bulk.MySQLWriter(connection, checked, sent)

    def stop_statement(self, connection: Connection, config: ConnectionConfig) -> None:
        """``KILL QUERY`` of the connection's server thread, from a second connection."""
        cancel.kill_statement(connection.connection.driver_connection, config)

    # --- health ---------------------------------------------------------------------------

    def server_name(self, dialect: Dialect) -> str | None:
        """MariaDB or MySQL, as health reports its version: SQLAlchemy's dialect tells."""
        return "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"

    def write_probe(self, table: str) -> str | None:
        """A write the read-only transaction must refuse: health's proof of the guard."""
        return f"CREATE TEMPORARY TABLE {table} (x INTEGER)"

    # --- the SQL of plots, profiles and plans (``see.py``) -----------------------------

    explain_statement = staticmethod(see.explain_statement)
    plan_text = staticmethod(see.plan_text)
    plan_summary = staticmethod(see.plan_summary)
    histogram_bin = staticmethod(see.histogram_bin)
    quartiles = staticmethod(see.quartiles)
    most_frequent = staticmethod(see.most_frequent)
    epoch_seconds = staticmethod(see.epoch_seconds)
    mean = staticmethod(see.mean)
    comparable = staticmethod(see.comparable)
    long_text = staticmethod(see.long_text)
    within_width = staticmethod(see.within_width)


def _no_read_role(config: ConnectionConfig) -> None:
    if config.read_role:
        raise ConfigError(
            "read_role: MariaDB and MySQL roles add privileges to the user's own and take "
            "none away; give reads an entry of their own, as a user granted SELECT only",
            connection=config.name,
            key="read_role",
        )
