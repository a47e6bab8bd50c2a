"""What a MariaDB/MySQL read may send (``dbnb.sql.readable``), before it is sent.

MariaDB and MySQL run, inside ``START TRANSACTION READ ONLY`` with the session
read-only, statements that change things without writing a table: ``COMMIT``
(and the transaction after it is the session's), ``SET`` of the session
(``sql_mode``, which changes how later writes store values and how text is
escaped), ``USE`` (which the next user of the pooled connection would inherit),
``SELECT ... INTO OUTFILE`` (a file on the server), ``SELECT ... INTO @var`` and
``@var := ...`` (user variables outlive the read), ``GET_LOCK`` (a named lock
the pooled connection keeps), ``LOAD_FILE`` (a server file), ``FLUSH``,
``KILL``, ``HANDLER``, ``PREPARE``, temporary tables, and a ``CALL`` whose body
could do any of those. So a read runs only ``SELECT``, ``WITH`` (no
data-modifying part), ``VALUES``, ``TABLE``, ``SHOW``, ``DESCRIBE``/``DESC``,
``EXPLAIN`` and ``ANALYZE`` of a read, ``HELP`` and savepoints; never ``INTO``
nor ``:=``; and calls none of ``SIDE_EFFECTS``.

Executable comments (``/*! ... */``, ``/*!50000 ... */``, ``/*M! ... */``) are
read as the code they are, and the text is read four ways: with backslash escapes
and without (``NO_BACKSLASH_ESCAPES``), with ``"..."`` a literal and a name
(``ANSI_QUOTES``), so no session ``sql_mode`` can make a literal end where this
check did not see it end. One statement per call:
PyMySQL connects without ``CLIENT.MULTI_STATEMENTS``, and a text of several is
refused before it is sent.
"""

from __future__ import annotations

import re

from dbnb.backends.mysql import lexical
from dbnb.sql import readable
from dbnb.sql.readable import ReadRules, calls

SIDE_EFFECTS = calls(
    r"get_lock",
    r"last_insert_id(?=\s*\(\s*[^)\s])",  # with a value: the session's, from then on
    r"release_(?:all_)?locks?",
    r"load_file",
    r"sys_(?:exec|eval)",  # the well-known UDFs that run a program
)
_INTO = re.compile(r"\bINTO\b\s*(\w*)", re.IGNORECASE)
_ASSIGN = re.compile(r":=")
_ANALYZE_RUNS = {"SELECT", "WITH", "VALUES", "FORMAT", "INSERT", "UPDATE", "DELETE"}
# MariaDB's ANALYZE [FORMAT=JSON] stmt and MySQL's EXPLAIN ANALYZE run the statement.
_ANALYZED = re.compile(
    r"[\s(]*(?:(?:EXPLAIN|DESCRIBE|DESC)\s+)?ANALYZE\b(?:\s+FORMAT\s*=\s*\w+)?", re.IGNORECASE
)
ONE_STATEMENT = readable.ONE_STATEMENT


def _analyzed(_words: tuple[str, ...], code: str) -> int | None:
    """Where the statement an ``ANALYZE`` runs starts in ``code``; None when nothing
    runs (an ``EXPLAIN``, a ``DESCRIBE``)."""
    found = _ANALYZED.match(code)
    return found.end() if found else None


def _extra(code: str, words: tuple[str, ...]) -> str | None:
    if words[0] == "ANALYZE" and (len(words) < 2 or words[1] not in _ANALYZE_RUNS):
        return "ANALYZE TABLE writes statistics"
    into = _INTO.search(code)
    if into is not None:
        target = into.group(1).upper()
        if target in ("OUTFILE", "DUMPFILE"):
            return f"SELECT ... INTO {target} writes a file on the server"
        return "SELECT ... INTO sets variables that outlive the read"
    if _ASSIGN.search(code):
        return "@variable := ... sets a variable that outlives the read"
    return None


READ_RULES = ReadRules(
    lexical=lexical.LEXICAL_RULES,
    kinds=frozenset(
        {
            "SELECT",
            "WITH",
            "VALUES",
            "TABLE",
            "SHOW",
            "DESCRIBE",
            "DESC",
            "EXPLAIN",
            "ANALYZE",
            "HELP",
            "SAVEPOINT",
            "RELEASE",
            "ROLLBACK",
        }
    ),
    functions=SIDE_EFFECTS,
    runs_inner=_analyzed,
    extra=_extra,
    alternatives=(lexical.NO_BACKSLASH, lexical.ANSI_QUOTES, lexical.ANSI_NO_BACKSLASH),
    session_state=re.compile(r":=|\bINTO\s+@", re.IGNORECASE),
    # MariaDB's statements (sql_yacc.yy's verb_clause), compound statements included.
    statements=frozenset(
        [
            "ALTER",
            "ANALYZE",
            "BACKUP",
            "BEGIN",
            "BINLOG",
            "CACHE",
            "CALL",
            "CHANGE",
            "CHECK",
            "CHECKSUM",
            "COMMIT",
            "CREATE",
            "DEALLOCATE",
            "DELETE",
            "DESC",
            "DESCRIBE",
            "DO",
            "DROP",
            "EXECUTE",
            "EXPLAIN",
            "FLUSH",
            "FOR",
            "GET",
            "GRANT",
            "HANDLER",
            "HELP",
            "IF",
            "INSERT",
            "INSTALL",
            "KILL",
            "LOAD",
            "LOCK",
            "LOOP",
            "OPTIMIZE",
            "PREPARE",
            "PURGE",
            "RELEASE",
            "RENAME",
            "REPAIR",
            "REPEAT",
            "REPLACE",
            "RESET",
            "RESIGNAL",
            "RETURN",
            "REVOKE",
            "ROLLBACK",
            "SAVEPOINT",
            "SELECT",
            "SET",
            "SHOW",
            "SHUTDOWN",
            "SIGNAL",
            "START",
            "STOP",
            "TABLE",
            "TRUNCATE",
            "UNINSTALL",
            "UNLOCK",
            "UPDATE",
            "USE",
            "VALUES",
            "WHILE",
            "WITH",
            "XA",
            "CASE",
            "DECLARE",
            "LEAVE",
            "ITERATE",
            "OPEN",
            "CLOSE",
            "FETCH",
            "RESTART",
            "CLONE",
        ]
    ),
)
