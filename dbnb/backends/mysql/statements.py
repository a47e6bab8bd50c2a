"""Which statements a MariaDB/MySQL read may send: the server refuses writes in a
read-only transaction, and dbnb refuses, before sending them, the statements the
server would run anyway.

MariaDB and MySQL run, inside ``START TRANSACTION READ ONLY`` with the session
read-only, statements that change things without writing a table: a ``COMMIT``
(and the transaction after it is the session's), ``SET SESSION TRANSACTION
READ WRITE``, ``SELECT ... INTO OUTFILE`` (a file on the server), ``ANALYZE
TABLE``, ``FLUSH``, ``USE`` (which the next user of the pooled connection would
inherit), a ``CALL`` or ``EXECUTE`` whose body could do any of those. So a read
may send only

- reads: ``SELECT``, ``WITH``, ``VALUES``, ``TABLE``, ``SHOW``, ``DESCRIBE``,
  ``DESC``, ``EXPLAIN``, ``HELP``, ``DO``, ``ANALYZE SELECT``, savepoints;
- ``SET`` of user variables and session settings, but not of the transaction,
  the character set (PyMySQL escapes values for it), the time zone (TIMESTAMPs
  come back in UTC: ``dbnb.backends.mysql.types``), ``autocommit``, anything
  ``*read_only``, nor ``GLOBAL``, ``PERSIST``, ``STATEMENT``, ``PASSWORD``,
  ``ROLE``; ``SET TRANSACTION READ WRITE`` goes to the server, which refuses it;
- writes the server itself refuses in a read-only transaction (``INSERT``,
  ``UPDATE``, ``DELETE``, ``REPLACE``, DDL, ``GRANT``, ``LOAD DATA``, ...), so
  that the refusal is the server's;

one statement per call (PyMySQL connects without ``CLIENT.MULTI_STATEMENTS``,
and a text of several statements is refused before it is sent), and never with
``INTO OUTFILE`` or ``INTO DUMPFILE`` anywhere in its code, executable comments
(``/*! ... */``) included.
"""

from __future__ import annotations

import re

from dbnb.sql import sqlscan

READS = {"SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "HELP", "DO"}
# Sent so that the server refuses them (error 1792, "Cannot execute statement in a
# READ ONLY transaction").
SERVER_REFUSES = {
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "CREATE",
    "ALTER",
    "DROP",
    "TRUNCATE",
    "RENAME",
    "GRANT",
    "REVOKE",
    "LOAD",
    "OPTIMIZE",
    "REPAIR",
    "INSTALL",
    "UNINSTALL",
}
_SAVEPOINTS = {"SAVEPOINT", "RELEASE"}
_ANALYZE_WRITES = {"TABLE", "TABLES", "NO_WRITE_TO_BINLOG", "LOCAL", "PERSISTENT"}
_SET_REFUSED = re.compile(
    r"\b(?:GLOBAL|PERSIST|PERSIST_ONLY|STATEMENT|PASSWORD|ROLE|NAMES|CHARSET|CHARACTER"
    r"|character_set_\w+|collation_\w+|time_zone|autocommit|\w*read_only|completion_type"
    r"|session_track\w*|TRANSACTION)\b",
    re.IGNORECASE,
)
_INTO_FILE = re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\b", re.IGNORECASE)
ONE_STATEMENT = (
    "one statement per call (several statements in one call could leave read-only mode)"
)


def refused(statement: str) -> str | None:
    """Why a read may not send ``statement``, on one line; None if it may."""
    found = sqlscan.scan(statement, "mysql")
    if len(sqlscan.statements(statement, found)) > 1:
        return ONE_STATEMENT
    code = _code(statement, found)
    if _INTO_FILE.search(code):
        return "SELECT ... INTO OUTFILE/DUMPFILE writes a file on the server"
    words = sqlscan.keywords(statement, found, 0, 3)
    first = words[0] if words else ""
    second = words[1] if len(words) > 1 else ""
    if first in READS or first in SERVER_REFUSES or first in _SAVEPOINTS:
        return None
    if first == "ROLLBACK" and second == "TO":
        return None  # ROLLBACK TO SAVEPOINT stays inside the read-only transaction
    if first == "ANALYZE":
        return None if second not in _ANALYZE_WRITES else "ANALYZE TABLE writes statistics"
    if first == "SET":
        if second == "TRANSACTION":
            return None  # the server refuses it inside a transaction (error 1568)
        match = _SET_REFUSED.search(code)
        if match is None:
            return None
        return f"SET {match.group().upper()} ... could leave read-only mode or change the session"
    if first in {"BEGIN", "START", "COMMIT", "ROLLBACK", "END", "XA"}:
        return f"transaction control ({first}) is refused in a read-only session"
    return f"{first or 'this statement'} is not a read (reads run SELECT, WITH, SHOW, EXPLAIN, ...)"


def _code(statement: str, found: tuple[sqlscan.Token, ...]) -> str:
    """The text with its literals, quoted identifiers and comments blanked out."""
    parts: list[str] = []
    position = 0
    for token in found:
        parts.append(statement[position : token.start])
        keep = token.kind in ("bind", "cast", "escape", "semicolon", "placeholder")
        parts.append(statement[token.start : token.end] if keep else " ")
        position = token.end
    parts.append(statement[position:])
    return "".join(parts)
