"""What a PostgreSQL read may send (``dbnb.sql.readable``), before it is sent.

PostgreSQL's read-only transaction refuses writes to tables, and the read's
rollback undoes ``SET`` and ``set_config``; it lets through what touches
neither: ``COPY ... TO PROGRAM`` and ``COPY ... TO 'file'``, signals to other
backends, server files, ``dblink``'s own connections, session advisory locks
(held by the pooled connection after the read), replication slots and backups,
and SQL text run by functions (``query_to_xml``, ``ts_stat``) that no scanner
sees. So a read runs only ``SELECT``, ``WITH`` (no data-modifying part),
``VALUES``, ``TABLE``, ``SHOW``, ``EXPLAIN`` (of a read, when analyzed) and
savepoints, and calls none of ``SIDE_EFFECTS``.

A function written by a user can do any of that inside: what stops it is the
database's own privileges. With a ``read_role:`` every read runs as that role
(``SET LOCAL ROLE`` in its transaction), and dbnb warns once when reads would
run as a superuser without one.
"""

from __future__ import annotations

import re

from dbnb.backends.postgresql.lexical import ESCAPING, LEXICAL_RULES
from dbnb.sql.readable import ReadRules, calls

SIDE_EFFECTS = calls(
    # signals and the server's own state
    r"pg_(?:terminate|cancel|signal)_backend",
    r"pg_reload_conf",
    r"pg_rotate_logfile\w*",
    r"pg_log_backend_memory_contexts",
    r"pg_promote",
    r"pg_switch_wal",
    r"pg_switch_xlog",
    r"pg_create_restore_point",
    r"pg_(?:start|stop)_backup",
    r"pg_backup_(?:start|stop)",
    r"pg_wal_replay_(?:pause|resume)",
    r"pg_xlog_replay_(?:pause|resume)",
    r"pg_(?:create_physical|create_logical|drop|copy_physical|copy_logical)_replication_slot",
    r"pg_replication_slot_advance",
    r"pg_replication_origin_\w+",
    r"pg_logical_emit_message",
    r"pg_import_system_collations",
    # the server's files
    r"pg_read_(?:binary_)?file",
    r"pg_stat_file",
    r"pg_ls_\w+",
    r"pg_file_\w+",
    r"pg_logdir_ls",
    r"lo_(?:import|export)",
    # other connections, and SQL text run where no scanner sees it
    r"dblink\w*",
    r"query_to_xml\w*",
    r"query_to_xmlschema",
    r"cursor_to_xml\w*",
    r"ts_stat",
    r"ts_rewrite",
    r"crosstab\d*",  # tablefunc's: SQL text, run
    r"connectby",
    # state kept outside the transaction: the session's random seed, the statistics
    r"setseed",
    r"pg_stat\w*_reset\w*",
    r"pg_stat_reset\w*",
    # settings, the role among them (a read_role's reads could take the login's back)
    r"set_config",
    # locks held by the session, after the read's transaction
    r"pg_(?:try_)?advisory_lock(?:_shared)?",
)

_EXPLAIN_FLAGS = {"ANALYZE", "ANALYSE", "VERBOSE"}
_WORD = re.compile(r"\s*([A-Za-z_]\w*)")


def _explained(words: tuple[str, ...], code: str) -> int | None:
    """Where the statement an EXPLAIN runs starts in ``code``: None when it only
    plans it (no ANALYZE)."""
    if words[0] != "EXPLAIN":
        return None
    position = code.upper().index("EXPLAIN") + len("EXPLAIN")
    rest = code[position:].lstrip()
    position = len(code) - len(rest)
    if rest.startswith("("):
        closing = code.find(")", position)
        options = code[position : closing + 1 if closing >= 0 else len(code)]
        # A quoted option ("analyze", U&"...") could be ANALYZE: taken as it.
        analyzed = re.search(r"\b(?:ANALY[SZ]E|name)\b", options, re.I) is not None
        return (closing + 1 if closing >= 0 else len(code)) if analyzed else None
    analyzed = False
    while (word := _WORD.match(code, position)) is not None:
        if word.group(1).upper() not in _EXPLAIN_FLAGS:
            break
        analyzed = analyzed or word.group(1).upper() != "VERBOSE"
        position = word.end()
    return position if analyzed else None


READ_RULES = ReadRules(
    lexical=LEXICAL_RULES,
    kinds=frozenset(
        {"SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "SAVEPOINT", "RELEASE", "ROLLBACK"}
    ),
    functions=SIDE_EFFECTS,
    runs_inner=_explained,
    # standard_conforming_strings off (a database or role may set it): '\\' escapes.
    alternatives=(ESCAPING,),
    # PostgreSQL's statements (gram.y's stmt).
    statements=frozenset(
        [
            "ABORT",
            "ALTER",
            "ANALYZE",
            "ANALYSE",
            "BEGIN",
            "CALL",
            "CHECKPOINT",
            "CLOSE",
            "CLUSTER",
            "COMMENT",
            "COMMIT",
            "COPY",
            "CREATE",
            "DEALLOCATE",
            "DECLARE",
            "DELETE",
            "DISCARD",
            "DO",
            "DROP",
            "END",
            "EXECUTE",
            "EXPLAIN",
            "FETCH",
            "GRANT",
            "IMPORT",
            "INSERT",
            "LISTEN",
            "LOAD",
            "LOCK",
            "MERGE",
            "MOVE",
            "NOTIFY",
            "PREPARE",
            "REASSIGN",
            "REFRESH",
            "REINDEX",
            "RELEASE",
            "RESET",
            "REVOKE",
            "ROLLBACK",
            "SAVEPOINT",
            "SECURITY",
            "SELECT",
            "SET",
            "SHOW",
            "START",
            "TABLE",
            "TRUNCATE",
            "UNLISTEN",
            "UPDATE",
            "VACUUM",
            "VALUES",
            "WITH",
        ]
    ),
)
