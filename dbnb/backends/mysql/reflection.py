"""Names with a backtick, reflected as they are (``a`b``, not ``a``b``).

MariaDB and MySQL quote an identifier holding a backtick by doubling it
(```a``b```). SQLAlchemy reads a table from ``SHOW CREATE TABLE`` and undoes the
doubling in the table's name, but not in its columns', its keys' or the columns
a key lists, so a column ``a`b`` is reflected as ``a``b``: no DataFrame column
matches it and every write, profile and describe of the table goes wrong.
dbnb's engines parse with ``Parser``, which undoes it everywhere.

A MariaDB server's own types (``INET4``, ``INET6``) are known to SQLAlchemy's
``mariadb`` dialect only; dbnb reaches MariaDB through ``mysql+pymysql``, whose
reflection of such a column warned (an error in a completion's background read)
and typed it NullType. The engine's dialect learns them once the server is known.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.mysql.mariadb import INET4, INET6
from sqlalchemy.dialects.mysql.reflection import MySQLTableDefinitionParser, ReflectedState
from sqlalchemy.engine import Engine


class Parser(MySQLTableDefinitionParser):
    """SQLAlchemy's, with every name it reads unescaped."""

    def parse(self, show_create: str, charset: str | None) -> ReflectedState:
        state = super().parse(show_create, charset)
        name = self.preparer._unescape_identifier  # noqa: SLF001 (the dialect's own rule)
        for column in state.columns:
            column["name"] = name(column["name"])
        for key in state.keys:
            if key.get("name"):
                key["name"] = name(key["name"])
            key["columns"] = [(name(column), *rest) for column, *rest in key["columns"]]
        for constraint in [*state.fk_constraints, *state.ck_constraints]:
            if constraint.get("name"):
                constraint["name"] = name(constraint["name"])
        for constraint in state.fk_constraints:
            for side in ("local", "foreign"):
                constraint[side] = [name(column) for column in constraint[side]]
        return state


def install(engine: Engine) -> None:
    """Reflect with ``Parser`` on ``engine``: made on its first connection, as
    SQLAlchemy makes its own, once the server's quoting (ANSI_QUOTES) is known."""

    def connect(*_: Any) -> None:
        dialect: Any = engine.dialect
        dialect._tabledef_parser = Parser(dialect, dialect.identifier_preparer)  # noqa: SLF001
        if dialect.is_mariadb:  # this dialect's own copy: other engines keep theirs
            dialect.ischema_names = {**dialect.ischema_names, "inet4": INET4, "inet6": INET6}

    event.listen(engine, "connect", connect, once=True)
