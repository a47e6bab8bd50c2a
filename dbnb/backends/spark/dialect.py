"""Spark SQL as a SQLAlchemy dialect writes it, for the ``select()`` statements dbnb
builds itself (``db.explore``): names in backquotes (a double quote is a string in
Spark), ``LIMIT n OFFSET m`` with the numbers written out, ``:name`` placeholders (Spark's
named parameters). Only compiling: Spark is reached through Spark Connect, not SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import default
from sqlalchemy.sql import compiler


class _Names(compiler.IdentifierPreparer):
    def __init__(self, dialect: default.DefaultDialect) -> None:
        super().__init__(dialect, initial_quote="`", escape_quote="`")


class _Compiler(compiler.SQLCompiler):
    def limit_clause(self, select: Any, **kw: Any) -> str:
        # Spark takes no parameter for LIMIT and OFFSET: the numbers are written out
        # (read as SQLAlchemy's own compilers read them).
        limit, offset = select._limit, select._offset  # noqa: SLF001
        text = ""
        if limit is not None:
            text += f"\n LIMIT {int(limit)}"
        if offset is not None:
            text += f" OFFSET {int(offset)}"
        return text


class _Types(compiler.GenericTypeCompiler):
    # Spark's text type is STRING: it knows no TEXT, and VARCHAR only with a length
    # (a cast to text is how the explorer compares a column as its text).
    def visit_string(self, type_: Any, **kw: Any) -> str:
        return "STRING"

    visit_text = visit_unicode = visit_unicode_text = visit_VARCHAR = visit_string


class SparkDialect(default.DefaultDialect):
    """Compiles statements into Spark SQL text."""

    name = "spark"
    paramstyle = "named"
    preparer: type[compiler.IdentifierPreparer] = _Names
    statement_compiler = _Compiler
    type_compiler_cls = _Types
    supports_native_boolean = True
    requires_name_normalize = False
