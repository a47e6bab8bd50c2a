"""What a read may send: an allow-list of statement kinds, decided before anything is sent.

A database's read-only transaction refuses writes to tables, but each database
runs, inside one, statements and functions with effects elsewhere: PostgreSQL's
``COPY ... TO PROGRAM``, ``pg_terminate_backend`` or a session advisory lock,
MariaDB's ``SELECT ... INTO OUTFILE``, ``GET_LOCK`` or ``USE``. So before a
read sends a statement, dbnb reads it here, by its database's ``ReadRules``:

- one statement per call;
- its first keyword is one the database reads with (``SELECT``, ``WITH``,
  ``VALUES``, ``SHOW``, ...): anything else is refused, whatever it is, so a
  statement kind nobody thought of is refused too;
- a ``WITH`` holds no data-modifying part, and an ``EXPLAIN`` (or MariaDB's
  ``ANALYZE``) that runs its statement runs a read;
- no call of a function the database runs with effects outside the transaction
  (``ReadRules.functions``: the known ones; a least-privilege ``read_role`` is
  what stops the unknown ones);
- a database's own further rules (``ReadRules.extra``).

The text is read through ``sqlscan``, so a keyword inside a literal or a
comment is no keyword, and MariaDB's executable comments (``/*! ... */``,
``/*!50000 ... */``, ``/*M! ... */``) are the code they are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from dbnb.sql import sqlscan

ONE_STATEMENT = "one statement per call (several statements in one call could leave read-only mode)"

# A version-conditioned comment's opening (/*!, /*!50110, /*M!, /*M!100100) and a
# comment's closing: code to MariaDB and MySQL, so read as nothing at all.
_EXECUTABLE_OPENING = re.compile(r"/\*M?!\d*")
_CLOSING = re.compile(r"\*/")
_WORD = re.compile(r"[A-Za-z_][\w$]*")
_SPACE = re.compile(r"[\s(]*")
_TRANSACTION_CONTROL = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "XA"}
_UESCAPE = re.compile(r"\bUESCAPE\b", re.IGNORECASE)
# A data-modifying statement inside a WITH; INSERT(), REPLACE() and TRUNCATE() of a
# string or a number are functions, not statements.
_DATA_MODIFYING = re.compile(
    r"\b(?:INSERT|REPLACE|TRUNCATE|UPDATE)\b(?!\s*\()|\b(?:DELETE|MERGE)\b", re.I
)


@dataclass(frozen=True)
class ReadRules:
    """What one database reads with."""

    lexical: sqlscan.LexicalRules  # how its text reads (literals, comments)
    kinds: frozenset[str]  # the first keywords of statements that read
    # Calls with effects outside the read-only transaction (a regular expression on
    # the code, identifiers unquoted); None: none known.
    functions: re.Pattern[str] | None = None
    # Keywords after which a statement runs another one, and whether it runs it:
    # EXPLAIN runs its statement only when analyzing.
    runs_inner: Callable[[tuple[str, ...], str], int | None] | None = None
    # A database's own further rule over the code: why it is refused, or None.
    extra: Callable[[str, tuple[str, ...]], str | None] | None = None
    # Other readings of the same text to check too (MariaDB: with and without
    # backslash escapes, whichever sql_mode the session has).
    alternatives: tuple[sqlscan.LexicalRules, ...] = ()
    # Every keyword that starts a statement of this database: a first word that is
    # none of them is a mistake (a typo), not a write, and is told as one.
    statements: frozenset[str] = frozenset()
    # What else in a statement's code leaves state in its session (MariaDB's
    # variables: ``@x := 1``, ``INTO @x``): a write that does gives its connection up.
    session_state: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a read may not send a statement: ``syntax`` when it starts with no statement
    of the database at all (a typo), else because it does not read."""

    reason: str
    syntax: bool = False

    def __str__(self) -> str:
        return self.reason


def refusal(sql: str, rules: ReadRules) -> Refusal | None:
    """Why a read may not send ``sql``; None if it may. Recent texts are remembered
    (the engine checks each text a driver is about to send)."""
    if len(sql) > CACHED_LENGTH:
        return _refusal(sql, rules)
    return _cached(sql, rules)


def refusal_of(sql: str, found: tuple[sqlscan.Token, ...], rules: ReadRules) -> Refusal | None:
    """``refusal`` of ``sql`` whose tokens by ``rules.lexical`` were ``found`` already (a
    prepared statement's): only the other readings scan it."""
    return _refusal(sql, rules, found)


CACHED_LENGTH = 10_000  # a longer text is read each time, not kept


@lru_cache(maxsize=256)
def _cached(sql: str, rules: ReadRules) -> Refusal | None:
    return _refusal(sql, rules)


def _refusal(
    sql: str, rules: ReadRules, found: tuple[sqlscan.Token, ...] | None = None
) -> Refusal | None:
    for reading, (text, named, statements) in enumerate(_readings(sql, rules, found)):
        # Several statements in one call: refused as the session reads the text. (Under
        # another reading the driver, which sends one statement per call, keeps it one.)
        if statements > 1 and reading == 0:
            return Refusal(ONE_STATEMENT)
        first = leading_words(text, count=1)
        if first and first[0] not in rules.kinds and first[0] not in rules.statements:
            return Refusal(_not_a_statement(first[0], rules), syntax=True)
        reason = _code_refusal(text, rules)
        if reason is None and rules.functions is not None:
            call = rules.functions.search(named)
            if call is not None:
                reason = f"{called(call)}() has effects outside the read-only transaction"
        if reason is not None:
            return Refusal(reason)
    return None


def _readings(
    sql: str, rules: ReadRules, found: tuple[sqlscan.Token, ...] | None = None
) -> Iterator[tuple[str, str, int]]:
    """Each reading of ``sql`` (its database's, from ``found`` when given, then
    ``rules.alternatives``): its code, its code with names unquoted, and how many
    statements it holds."""
    for reading, lexical in enumerate((rules.lexical, *rules.alternatives)):
        tokens = found if reading == 0 and found is not None else sqlscan.scan(sql, lexical)
        statements = len(sqlscan.statements(sql, tokens))
        yield code(sql, tokens), code(sql, tokens, names=True), statements


# What a write may run and leave nothing in its session: statements on data and
# schema. Anything else (SET, USE, PREPARE, LISTEN, a temporary table, a session lock,
# a variable) could change what the next user of the pooled connection gets.
_PLAIN_WRITES = {
    "INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "TRUNCATE", "CREATE", "ALTER", "DROP",
    "COMMENT", "GRANT", "REVOKE", "RENAME", "ANALYZE", "VACUUM", "REFRESH", "REINDEX",
    "SAVEPOINT", "RELEASE",
}  # fmt: skip
_TEMPORARY = re.compile(r"\bTEMP(?:ORARY)?\b", re.IGNORECASE)


def changes_session(sql: str, rules: ReadRules) -> bool:
    """Whether a write's ``sql`` may leave state in its session, read as ``refusal``
    reads a statement: its first keyword, the functions it calls, its variables."""
    if len(sql) > CACHED_LENGTH:
        return _changes_session(sql, rules)
    return _cached_changes(sql, rules)


@lru_cache(maxsize=256)
def _cached_changes(sql: str, rules: ReadRules) -> bool:
    return _changes_session(sql, rules)


def _changes_session(sql: str, rules: ReadRules) -> bool:
    for text, named, _statements in _readings(sql, rules):
        words = leading_words(text, count=1)
        first = words[0] if words else ""
        if first == "CREATE" and _TEMPORARY.search(text):
            return True
        if first not in _PLAIN_WRITES and first not in rules.kinds:
            return True
        if rules.functions is not None and rules.functions.search(named):
            return True
        if rules.session_state is not None and rules.session_state.search(text):
            return True
    return False


def _not_a_statement(word: str, rules: ReadRules) -> str:
    close = difflib.get_close_matches(word, sorted(rules.kinds), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f'syntax error at "{word}": no statement starts with it{hint}'


def code(sql: str, found: tuple[sqlscan.Token, ...], *, names: bool = False) -> str:
    """``sql`` as its code alone: literals and comments blanked, executable comments
    opened; quoted identifiers a plain name (``names``: unquoted, since
    ``"pg_read_file"(...)`` is a call too)."""
    parts: list[str] = []
    position = 0
    for token in found:
        parts.append(sql[position : token.start])
        if token.kind == "identifier" and names:
            name = sql[token.start + 1 : token.end - 1]
            if sql[max(0, token.start - 2) : token.start].upper() == "U&":
                parts[-1] = parts[-1][:-2]  # U&"pg\005fread\005ffile" is pg_read_file
                name = _unicode_escaped(name)
            parts.append(f" {name} ")
        elif token.kind == "identifier":
            parts.append(" name ")
        elif token.kind == "bind":
            parts.append(" :bind ")
        elif token.kind in ("semicolon", "cast", "placeholder", "escape"):
            parts.append(sql[token.start : token.end])
        else:  # a literal or a comment
            parts.append(" ")
        position = token.end
    parts.append(sql[position:])
    text = "".join(parts)
    if "/*" in text:  # only executable comments are left as code
        text = _CLOSING.sub(" ", _EXECUTABLE_OPENING.sub(" ", text))
    return text


def _unicode_escaped(name: str) -> str:
    """A ``U&"..."`` identifier's name: ``\\XXXX`` and ``\\+XXXXXX`` as the characters they
    stand for (with another escape character, chosen by UESCAPE, nothing is decoded: a
    read that uses UESCAPE is refused, ``_code_refusal``)."""
    return _UNICODE_ESCAPE.sub(
        lambda found: (
            "\\" if found.group() == "\\\\" else chr(int(found.group(1) or found.group(2), 16))
        ),
        name,
    )


_UNICODE_ESCAPE = re.compile(r"\\\\|\\([0-9A-Fa-f]{4})|\\\+([0-9A-Fa-f]{6})")


def leading_words(code: str, start: int = 0, count: int = 3) -> tuple[str, ...]:
    """The first ``count`` words of ``code`` from ``start``, upper case, past opening
    parentheses and whitespace; a word is anything a keyword or a name could be."""
    words: list[str] = []
    position = _SPACE.match(code, start).end()  # type: ignore[union-attr]
    while len(words) < count:
        word = _WORD.match(code, position)
        if word is None:
            break
        words.append(word.group().upper())
        position = _SPACE.match(code, word.end()).end()  # type: ignore[union-attr]
    return tuple(words)


def _code_refusal(text: str, rules: ReadRules, depth: int = 0) -> str | None:
    words = leading_words(text)
    if not words:
        return None  # no statement (or not one the database can parse): the server says
    first = words[0]
    if first in _TRANSACTION_CONTROL and not (first == "ROLLBACK" and words[1:2] == ("TO",)):
        return f"transaction control ({first}) is refused in a read-only session"
    if first not in rules.kinds:
        return f"{first} is not a read (a read runs {_kinds(rules)})"
    if first == "WITH" and _DATA_MODIFYING.search(text):
        return "a WITH holding INSERT, UPDATE, DELETE or MERGE writes"
    inner = rules.runs_inner(words, text) if rules.runs_inner is not None else None
    if inner is not None and depth < 3:
        reason = _code_refusal(text[inner:], rules, depth + 1)
        if reason is not None:
            return f"an analyzed statement runs: {reason}"
    if _UESCAPE.search(text):
        return "UESCAPE hides names from this check; write the characters themselves"
    if rules.extra is not None:
        return rules.extra(text, words)
    return None


def _kinds(rules: ReadRules) -> str:
    """The statements a read runs, as a user would list them (savepoints left out)."""
    named = [kind for kind in _ORDER if kind in rules.kinds]
    return ", ".join(named[:-1]) + " or " + named[-1]


_ORDER = ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "DESCRIBE", "PRAGMA", "EXPLAIN", "ANALYZE")


def calls(*names: str) -> re.Pattern[str]:
    """A pattern finding a call of any of ``names`` (regular expressions) in code as
    ``code`` gives it: ``name(...)``, with or without a schema before it, and
    PostgreSQL's attribute notation ``(x).name`` or ``t.name``, which calls a function
    of one argument too."""
    alternatives = "|".join(names)
    call = rf"(?<![\w$])(?P<call>{alternatives})\s*\("
    attribute = rf"\.\s*(?P<attribute>{alternatives})(?![\w$])"
    return re.compile(f"{call}|{attribute}", re.IGNORECASE)


def called(found: re.Match[str]) -> str:
    """The function a ``calls`` pattern found."""
    return (found.group("call") or found.group("attribute")).lower()
