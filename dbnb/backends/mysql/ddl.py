"""MySQL's column types for SQLAlchemy's generic ones, so values round-trip exactly.

SQLAlchemy declares a generic ``DateTime`` as ``DATETIME``, ``Time`` as ``TIME``
``Float`` as ``FLOAT`` and a ``Numeric`` without precision as ``DECIMAL`` on
MySQL and MariaDB: whole seconds, four-byte floats and whole numbers (MySQL's
``DECIMAL`` is ``DECIMAL(10, 0)``), where PostgreSQL and SQLite keep
microseconds, Python's doubles and the digits given. So a model's ``datetime``,
``float`` or ``Decimal`` field would lose digits on the way in, without an error.
With dbnb's MySQL backend loaded, those generic types are declared
``DATETIME(6)``, ``TIME(6)``, ``DOUBLE`` and ``DECIMAL(65, 30)`` (MySQL's
widest); a MySQL type given explicitly (``mysql.DATETIME(fsp=3)``,
``mysql.FLOAT``) keeps its own declaration. This is a rule of SQLAlchemy's DDL
compiler for the MySQL dialects, for the whole process (SQLAlchemy's
``sqlalchemy.ext.compiler``), made when dbnb first connects to MariaDB or MySQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import types as sqltypes
from sqlalchemy.ext.compiler import compiles


def _generic(type_: Any, kind: type[Any]) -> bool:
    """A generic SQLAlchemy type, not a dialect's own (mysql.DATETIME is a DateTime too)."""
    return type(type_) is kind or type(type_).__module__.startswith("sqlmodel")


@compiles(sqltypes.DateTime, "mysql")
@compiles(sqltypes.DateTime, "mariadb")
def _datetime(type_: Any, compiler: Any, **kw: Any) -> str:
    if _generic(type_, sqltypes.DateTime):
        return "DATETIME(6)"
    return str(compiler.visit_datetime(type_, **kw))


@compiles(sqltypes.Time, "mysql")
@compiles(sqltypes.Time, "mariadb")
def _time(type_: Any, compiler: Any, **kw: Any) -> str:
    if _generic(type_, sqltypes.Time):
        return "TIME(6)"
    return str(compiler.visit_time(type_, **kw))


@compiles(sqltypes.Float, "mysql")
@compiles(sqltypes.Float, "mariadb")
def _float(type_: Any, compiler: Any, **kw: Any) -> str:
    if type(type_) is sqltypes.Float and type_.precision is None:
        return "DOUBLE"
    return str(compiler.visit_float(type_, **kw))


@compiles(sqltypes.Numeric, "mysql")
@compiles(sqltypes.Numeric, "mariadb")
def _numeric(type_: Any, compiler: Any, **kw: Any) -> str:
    if type(type_) is sqltypes.Numeric and type_.precision is None:
        return "DECIMAL(65, 30)"
    return str(compiler.visit_numeric(type_, **kw))
