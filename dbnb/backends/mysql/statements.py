"""Which statements a MariaDB/MySQL read may send: the server refuses writes in a
read-only transaction, and dbnb refuses, before sending them, the statements the
server would run anyway.

MariaDB and MySQL run, inside ``START TRANSACTION READ ONLY`` with the session
read-only, statements that change things without writing a table: a ``COMMIT``
(and the transaction after it is the session's), ``SET SESSION TRANSACTION
READ WRITE``, ``SELECT ... INTO OUTFILE`` (a file on the server), ``ANALYZE
TABLE``, ``FLUSH``, ``USE`` (which the next user of the pooled connection would
inherit), a ``CALL`` or ``EXECUTE`` whose body could do any of those. So a read
may not send

- transaction control (``BEGIN``, ``START``, ``COMMIT``, ``ROLLBACK`` but for
  ``ROLLBACK TO SAVEPOINT``, ``END``, ``XA``);
- statements with effects outside the transaction (``SIDE_EFFECTS``: ``CALL``,
  ``PREPARE``/``EXECUTE``, ``LOCK``, ``USE``, ``FLUSH``, ``KILL``, ...) and
  ``ANALYZE TABLE``;
- ``SET`` of the transaction's or session's mode, the character set (PyMySQL
  escapes values for it), the time zone (TIMESTAMPs come back in UTC:
  ``dbnb/backends/mysql/types.py``), ``autocommit``, anything ``*read_only``, nor
  ``SET GLOBAL``/``PERSIST``/``STATEMENT``/``PASSWORD``/``ROLE``; user variables
  and other session settings are fine, and ``SET TRANSACTION READ WRITE`` goes
  to the server, which refuses it;

and everything else goes to the server, which refuses writes in a read-only
transaction (``INSERT``, ``UPDATE``, DDL, ``GRANT``, ``LOAD DATA``, ...): the
refusal is the server's. One statement per call (PyMySQL connects without
``CLIENT.MULTI_STATEMENTS``, and a text of several statements is refused before it
is sent), and never with ``INTO OUTFILE`` or ``INTO DUMPFILE`` anywhere in its
code, executable comments (``/*! ... */``) included.
"""

from __future__ import annotations

import re

from dbnb.sql import sqlscan

# Statements with effects outside the read-only transaction that are not writes to a
# table (the server runs them in one): refused before they are sent.
SIDE_EFFECTS = {
    "CALL",  # a procedure may COMMIT, change the session, then write
    "PREPARE",  # dynamic SQL hides the statement it runs from this check
    "EXECUTE",
    "DEALLOCATE",
    "LOCK",  # commits implicitly
    "UNLOCK",
    "USE",  # the next user of the pooled connection would inherit the database
    "FLUSH",
    "KILL",
    "RESET",
    "PURGE",
    "SHUTDOWN",
    "RESTART",
    "BINLOG",
    "CACHE",
    "CHANGE",
    "STOP",
    "BACKUP",
    "CLONE",
    "HANDLER",
}
_TRANSACTION_CONTROL = {"BEGIN", "START", "COMMIT", "ROLLBACK", "END", "XA"}
_ANALYZE_WRITES = {"TABLE", "TABLES", "NO_WRITE_TO_BINLOG", "LOCAL", "PERSISTENT"}
_SET_REFUSED = re.compile(
    r"\b(?:GLOBAL|PERSIST|PERSIST_ONLY|STATEMENT|PASSWORD|ROLE|NAMES|CHARSET|CHARACTER"
    r"|character_set_\w+|collation_\w+|time_zone|autocommit|\w*read_only|completion_type"
    r"|session_track\w*|TRANSACTION)\b",
    re.IGNORECASE,
)
_INTO_FILE = re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\b", re.IGNORECASE)
ONE_STATEMENT = "one statement per call (several statements in one call could leave read-only mode)"


def refused(statement: str) -> str | None:
    """Why a read may not send ``statement``, on one line; None if it may."""
    found = sqlscan.scan(statement, "mysql")
    if len(sqlscan.statements(statement, found)) > 1:
        return ONE_STATEMENT
    code = _code(statement, found)
    if _INTO_FILE.search(code):
        return "SELECT ... INTO OUTFILE/DUMPFILE writes a file on the server"
    words = sqlscan.keywords(statement, found, 0, 2)
    first = words[0] if words else ""
    second = words[1] if len(words) > 1 else ""
    if first == "ROLLBACK" and second == "TO":
        return None  # ROLLBACK TO SAVEPOINT stays inside the read-only transaction
    if first in _TRANSACTION_CONTROL:
        return f"transaction control ({first}) is refused in a read-only session"
    if first == "ANALYZE" and second in _ANALYZE_WRITES:
        return "ANALYZE TABLE writes statistics"
    if first in SIDE_EFFECTS:
        return f"{first} has effects outside the read-only transaction"
    if first == "SET" and second != "TRANSACTION":  # SET TRANSACTION: the server refuses it
        match = _SET_REFUSED.search(code)
        if match is not None:
            return f"SET {match.group().upper()} could leave read-only mode or change the session"
    # Anything else goes to the server, which refuses writes (and what it cannot parse).
    return None


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
