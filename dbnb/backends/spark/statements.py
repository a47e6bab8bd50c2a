"""What a Spark read may send, and its values as Spark's named parameters.

**Statement kinds** (``READ_RULES``, ``dbnb.sql.readable``): a read starts with
``SELECT``, ``WITH``, ``VALUES``, ``TABLE`` or ``FROM`` (a query), or with
``SHOW``, ``DESCRIBE``/``DESC`` or ``EXPLAIN`` (Spark's commands that only
look). Anything else is refused before anything is sent. The text is read by
Spark's own lexical rules (``lexical.py``), so a keyword in a literal or a
comment is none.

**Commands** run only when Spark's own parse and analysis of them, which
``EXPLAIN EXTENDED`` gives without running anything, has a root in
``READ_COMMANDS``: the plan nodes of Spark's SHOW, DESCRIBE and EXPLAIN
statements, as parsed and as analysed. A new kind of node is refused until it is
listed here.

**Lists after IN**: ``x IN :ids`` becomes ``x IN (:ids_0, :ids_1, ...)``, one
named parameter per item; an empty list matches no row (``IN`` an empty
subquery), and every row after ``NOT IN``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dbnb.backends.spark.lexical import LEXICAL_RULES
from dbnb.sql import sqlscan
from dbnb.sql.binds import BindRules
from dbnb.sql.readable import ReadRules
from dbnb.sql.sqltext import Statement

QUERIES = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "FROM"})
COMMANDS = frozenset({"SHOW", "DESCRIBE", "DESC", "EXPLAIN"})

READ_RULES = ReadRules(
    lexical=LEXICAL_RULES,
    kinds=QUERIES | COMMANDS,
    # The first keywords of Spark SQL's statements (SqlBaseParser.g4's statement).
    statements=frozenset(
        [
            "ADD",
            "ALTER",
            "ANALYZE",
            "CACHE",
            "CALL",
            "CLEAR",
            "COMMENT",
            "CREATE",
            "DECLARE",
            "DELETE",
            "DESC",
            "DESCRIBE",
            "DROP",
            "EXECUTE",
            "EXPLAIN",
            "FROM",
            "INSERT",
            "LIST",
            "LOAD",
            "MERGE",
            "MSCK",
            "REFRESH",
            "REPAIR",
            "REPLACE",
            "RESET",
            "SELECT",
            "SET",
            "SHOW",
            "TABLE",
            "TRUNCATE",
            "UNCACHE",
            "UNSET",
            "UPDATE",
            "USE",
            "VALUES",
            "WITH",
        ]
    ),
)

# The plan roots of Spark's read-only commands: parsed (``'ShowTables``) and analysed
# (``ShowTablesCommand``), Spark 3.5 to 4.x.
READ_COMMANDS = frozenset(
    [
        "ShowTables",
        "ShowTablesCommand",
        "ShowTablesExtended",
        "ShowTableExtended",
        "ShowTablePartition",
        "ShowViews",
        "ShowViewsCommand",
        "ShowNamespaces",
        "ShowNamespacesCommand",
        "ShowCatalogsCommand",
        "ShowCurrentNamespaceCommand",
        "ShowColumns",
        "ShowColumnsCommand",
        "ShowFunctions",
        "ShowFunctionsCommand",
        "ShowPartitions",
        "ShowPartitionsCommand",
        "ShowCreateTable",
        "ShowCreateTableCommand",
        "ShowCreateTableAsSerdeCommand",
        "ShowTableProperties",
        "ShowTablePropertiesCommand",
        "ShowProcedures",
        "DescribeRelation",
        "DescribeTableCommand",
        "DescribeColumn",
        "DescribeColumnCommand",
        "DescribeNamespace",
        "DescribeDatabaseCommand",
        "DescribeFunction",
        "DescribeFunctionCommand",
        "DescribeQueryCommand",
        "DescribeProcedureCommand",
        "ExplainCommand",
    ]
)

# Spark binds values as named parameters (literals it types itself); a list after IN
# becomes one per item (``expand``), elsewhere an array.
BIND_RULES = BindRules()

_SECTION = re.compile(r"== (Parsed|Analyzed) Logical Plan ==\n(.*?)(?=\n== |\Z)", re.DOTALL)
_NODE = re.compile(r"'?([A-Z]\w*)(?=[\s\[,]|$)")


def is_command(sql: str) -> bool:
    """Whether ``sql`` (allowed by ``READ_RULES``) is one of Spark's read commands."""
    words = sqlscan.leading_keywords(sql, LEXICAL_RULES, count=1)
    return bool(words) and words[0] in COMMANDS


def plan_roots(explained: str) -> list[str]:
    """The root nodes of the parsed and the analysed plan in ``EXPLAIN EXTENDED``'s text
    (the analysed one is left out when analysis failed: running says why)."""
    roots = []
    for section, body in _SECTION.findall(explained):
        for line in body.splitlines():
            found = _NODE.match(line.strip())
            if found is not None and not line.strip().startswith("org."):
                roots.append(found.group(1))
                break
            if section == "Analyzed" and "Exception" in line:
                break
    return roots


def expand(statement: Statement, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The statement's text with each list after IN as one named parameter per item,
    and the values Spark binds to them (from its tokens: the text is not read again)."""
    sql = statement.sql
    listed = statement.in_bare | statement.in_parens
    lists = {name for name in listed if isinstance(values.get(name), list)}
    if not lists:
        return sql, dict(values)
    bound = {name: value for name, value in values.items() if name not in lists}
    taken = set(values)
    parts: list[str] = []
    done = 0
    for token in statement.tokens:
        name = statement.sql[token.start + 1 : token.end]
        if token.kind != "bind" or name not in lists:
            continue
        items = values[name]
        names = [_fresh(f"{name}_{index}", taken) for index in range(len(items))]
        bound.update(zip(names, items, strict=True))
        inner = ", ".join(f":{item}" for item in names) or "SELECT NULL WHERE FALSE"
        parts += [
            statement.sql[done : token.start],
            inner if name in statement.in_parens else f"({inner})",
        ]
        done = token.end
    parts.append(statement.sql[done:])
    return "".join(parts), bound


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name
