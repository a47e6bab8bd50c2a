"""Run the SQL of a notebook cell: several statements, placeholders bound from a namespace.

This is the library half of ``%%db``; it knows nothing of IPython. A read
cell runs each statement through the read-only path, in one read-only
transaction (the guards refuse several statements in one call, so the cell is
split first). A write cell runs all its statements in one write transaction
that commits once at the end, or not at all.
"""

from __future__ import annotations

import argparse
import builtins
import functools
import keyword
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import pandas as pd
from sqlalchemy.engine import CursorResult

from dbnb.connections.database import Database
from dbnb.connections.facade import Facade
from dbnb.engine import limits, monitor, remedies
from dbnb.errors import DbnbError, ParameterError, QueryError
from dbnb.read import failures, formats, frames, guarded
from dbnb.read.request import ReadRequest
from dbnb.sql import sqltext
from dbnb.sql.prepared import Prepared, prepare


@dataclass(frozen=True)
class CellResult:
    """What a cell did: the rows of its last statement that returned rows, if any."""

    frame: formats.Frame | None  # a pandas DataFrame, or the `output` format's; None: no rows
    connection: str
    statements: int
    # Rows in `frame`; with no frame, the rows the statements changed (as the driver counts).
    rows: int
    elapsed: float
    write: bool
    # Each statement's kind: its first keyword, upper case ("" if none).
    kinds: tuple[str, ...] = ()


# Rows of a result above which the banner says a column type sent it to the slower
# guarded path (below, the path makes no difference a user would notice).
GUARDED_NOTED_ROWS = 5_000


@remedies.origin("cell")  # errors name a cell's remedies (--write, ...)
def run(
    db: Facade,
    sql: str,
    namespace: Mapping[str, Any],
    *,
    write: bool = False,
    output: formats.Output = "pandas",
) -> CellResult:
    """Run every statement of ``sql`` on ``db``, binding ``:name`` from ``namespace``.

    The returned frame carries its provenance in ``frame.attrs``: ``sql`` (the
    statement that produced it), ``connection``, ``elapsed`` (seconds, whole
    cell), ``rows`` and ``parameters`` (the names bound, never their values).
    With ``output`` "polars" or "arrow" the frame is of that kind (no attrs).
    """
    formats.check(output)
    statements = _prepared(db, sql, namespace)
    started = time.perf_counter()
    # A database reached without SQLAlchemy runs a cell its own way (None: it does not).
    ran = db.run_cell(
        [statement.sql or "" for statement in statements],
        [statement.values for statement in statements],
        write=write,
    )
    source: Prepared | None
    frame: formats.Frame | None
    if ran is not None:
        frame, changed = ran.frame, ran.changed
        source = None if ran.source is None else statements[ran.source]
    elif len(statements) == 1 and not write and db.config.max_rows is None:
        # One read is a query: Database.query chooses its path (the columnar one when
        # it can, decided before it runs) and records it in the history; its statement
        # as prepared here, read no more. (A polars or Arrow result comes straight
        # from the columnar path's Arrow.)
        read = db.read(ReadRequest(statements[0], output=output, progress=False))
        assert not isinstance(read, Iterator)  # no chunksize: the whole result
        frame = read
        source = statements[0]
        changed = 0
    else:
        # run_cell gave None: the facade runs cells on SQLAlchemy's connection (Facade).
        assert isinstance(db, Database), f"{type(db).__name__}.run_cell must run the cell"
        frame, source, changed = _run_all(db, statements, write=write)
    elapsed = time.perf_counter() - started
    if isinstance(frame, pd.DataFrame) and output != "pandas":
        frame = formats.from_frame(frame, output)
    if isinstance(frame, pd.DataFrame) and source is not None and source.statement is not None:
        frame.attrs.update(
            sql=source.sql,
            connection=db.name,
            elapsed=elapsed,
            rows=len(frame),
            parameters=list(source.statement.params),
        )
        if len(frame) > GUARDED_NOTED_ROWS and ran is None:
            because = db.guarded_because(source)
            if because is not None:
                frame.attrs["guarded"] = because
    return CellResult(
        frame=frame,
        connection=db.name,
        statements=len(statements),
        rows=len(frame) if frame is not None else changed,
        elapsed=elapsed,
        write=write,
        kinds=tuple(statement.kind for statement in statements),
    )


def _prepared(db: Facade, sql: str, namespace: Mapping[str, Any]) -> list[Prepared]:
    """The statements of a cell, each parsed (the cell's text scanned once) and bound from
    ``namespace``: any refusal before anything runs."""
    rules = db.sql_rules
    statements = sqltext.split(sql, rules.lexical)
    if not statements:
        raise DbnbError("there is no SQL to run (the cell is empty or only comments)")
    for number, statement in enumerate(statements, 1):
        _refuse_transaction_control(db, statement, number)
    return [
        prepare(statement, _values(statement, namespace), rules, db.name)
        for statement in statements
    ]


# Statements that would end or start a transaction in the middle of a cell.
_TRANSACTION_CONTROL = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"}


def _run_all(
    db: Database, statements: list[Prepared], *, write: bool
) -> tuple[Any, Prepared | None, int]:
    """Every statement in one transaction (committed only when ``write``): the last
    result's frame, the statement that made it, and the rows the others changed."""
    frame: Any = None
    source: Prepared | None = None
    changed = 0
    limit = db.config.max_rows
    number = 0
    result: CursorResult[Any] | None = None
    close = functools.partial(limits.close_result, config=db.config, backend=db.backend)
    try:
        with db.connection(write=write) as connection:
            connection = guarded.capped(connection, limit)  # as in Database.query
            with connection.begin() as transaction:
                for index, statement in enumerate(statements):
                    number = index + 1  # for the error message
                    clause = statement.executable()
                    # Its history record stays open until its rows are fetched.
                    result = guarded.execute(connection, clause, statement.values)
                    if result.returns_rows:
                        frame = frames.to_frame(
                            result, db.backend, clause, max_rows=limit, fetch=_FETCH, close=close
                        )
                        source = statement
                    else:
                        monitor.fetched(result, None)
                        changed += max(result.rowcount, 0)
                if not write:
                    transaction.rollback()
    except failures.TRANSLATED as error:
        where = ""
        if isinstance(error, frames.TooManyRows):
            where = f"statement {number}: "
        elif len(statements) > 1:
            where = f"statement {number} of {len(statements)}: "
        bound = statements[number - 1].values if number else None
        failure = failures.translate(
            error, db.name, limit=limit, result=result, where=where, values=bound
        )
    else:
        return frame, source, changed
    # Raised out here, so it keeps no __context__: the driver's error quotes the
    # values back, and its frames hold them.
    raise failure


def _refuse_transaction_control(db: Facade, statement: sqltext.Statement, number: int) -> None:
    words = statement.keywords
    if not words or words[0] not in _TRANSACTION_CONTROL:
        return
    if words[0] == "ROLLBACK" and words[1:] == ("TO",):  # to a savepoint: stays inside
        return
    if words[0] == "PREPARE" and words[1:] != ("TRANSACTION",):  # a prepared statement
        return
    raise QueryError(
        f"{db.name}: statement {number} is {words[0]}: a cell runs as one transaction that "
        "dbnb begins and ends (read-only, or with --write committed at the end), so leave "
        "transaction control out; nothing was run"
    )


# No progress bar: cells run in notebooks whose saved outputs must not change.
_FETCH = monitor.reported(frames.fetch_rows)


def _values(statement: sqltext.Statement, namespace: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in statement.params if name not in namespace]
    if missing:
        names = ", ".join(missing)
        raise ParameterError(
            f"no notebook variable named {names} to bind to :{missing[0]} in: "
            f"{_short(statement.sql)} (assign it first)"
        )
    return {name: namespace[name] for name in statement.params}


def _short(sql: str, width: int = 60) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def one_statement(db: Facade, sql: str, namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one statement of ``sql`` and its ``:name`` values from ``namespace``, for
    what takes a single query (``%%db plot``, ``%%db explain``)."""
    statements = sqltext.split(sql, db.sql_rules.lexical)
    if len(statements) != 1:
        raise DbnbError(
            f"{db.name}: write one statement here, not {len(statements)}"
            if statements
            else "there is no SQL to run (the cell is empty or only comments)"
        )
    return statements[0].sql, _values(statements[0], namespace)


class _Arguments(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DbnbError(f"{self.prog}: {message}")


def plot_arguments(words: list[str], *, cell: bool) -> tuple[str, str, str, int, int]:
    """``KIND SOURCE COLUMN [--bins N] [--top N]`` of ``%db plot`` (SOURCE is ``-`` in
    ``%%db plot``, whose cell is the query): kind, source, column, bins, top."""
    parser = _Arguments(prog="%%db plot" if cell else "%db plot", add_help=False)
    parser.add_argument("words", nargs="*")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(words)
    if len(args.words) != 3 or (cell and args.words[1] != "-"):
        where = "- COLUMN (the query in the cell)" if cell else "TABLE COLUMN"
        raise DbnbError(f"usage: {parser.prog} hist|bar|box {where} [--bins N] [--top N]")
    kind, source, column = args.words
    return kind, source, column, args.bins, args.top


def plot(db: Facade, words: list[str], namespace: Mapping[str, Any], cell: str | None) -> Any:
    """``%db plot KIND TABLE COLUMN ...``, or ``%%db plot KIND - COLUMN ...`` over the
    cell's query, bound from ``namespace``: the Axes ``db.plot`` drew."""
    kind, source, column, bins, top = plot_arguments(words, cell=cell is not None)
    params = None
    if cell is not None:
        source, params = one_statement(db, cell, namespace)
    return db.plot(kind, source, column, params, bins=bins, top=top)


def explain(db: Facade, rest: str, namespace: Mapping[str, Any], cell: str | None) -> Any:
    """``%db explain [--analyze] SQL``, or ``%%db explain [--analyze]`` with the SQL in
    the cell: ``db.explain`` of that one statement, bound from ``namespace``."""
    words = rest.split()
    analyze = bool(words) and words[0] == "--analyze"
    if cell is not None:
        if words not in ([], ["--analyze"]):
            raise DbnbError("usage: %%db explain [--analyze], with the SQL in the cell")
        sql = cell
    else:
        sql = (rest.split(None, 1)[1] if len(words) > 1 else "") if analyze else rest
    if not sql.strip():
        raise DbnbError("usage: %db explain [--analyze] SQL")
    query, values = one_statement(db, sql, namespace)
    return db.explain(query, values, analyze=analyze)


# --- the words of a `%db` line ------------------------------------------------------

# A token of a `%db` line that is an option rather than the start of SQL or a subcommand.
_OPTION = re.compile(r"--?[A-Za-z][\w-]*(=\S*)?")
_OPTIONS_WITH_VALUE = {"-o", "--out", "--as", "--csv", "--parquet"}


# Names IPython keeps in the notebook's namespace for itself: its history (In, Out, _,
# _i, _5, _i5, ...) and its functions. `-o get_ipython` or `-o __builtins__` once broke
# the kernel (dbnb issue #22), so such a name is refused rather than overwritten.
_IPYTHON_NAMES = frozenset(
    [
        "get_ipython",
        "exit",
        "quit",
        "In",
        "Out",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_oh",
        "_dh",
        "_ih",
        "_exit_code",
    ]
)
_IPYTHON_NUMBERED = re.compile(r"_i?[0-9]+")


def check_variable(name: str, option: str = "-o") -> None:
    """Refuse a name a result may not be stored under, before anything runs.

    A name that would hide a built-in is refused too, not warned about: the result
    is easy to store under another name, a shadowed ``list`` or ``sum`` is not easy
    to notice.
    """
    why = None
    if not name.isidentifier():
        why = "not a valid Python variable name"
    elif keyword.iskeyword(name):
        why = "a Python keyword"
    elif name.startswith("__") and name.endswith("__"):
        why = "a dunder name, Python's own"
    elif name in _IPYTHON_NAMES or _IPYTHON_NUMBERED.fullmatch(name):
        why = "a name IPython keeps for itself (its In/Out history, get_ipython, exit)"
    elif hasattr(builtins, name):
        why = f"it would hide Python's built-in {name}"
    if why is not None:
        raise DbnbError(f"{option} {name}: {why}; pick another name")


def split_options(line: str) -> tuple[list[str], str]:
    """Split a ``%db`` line into its leading options and the rest, kept verbatim (SQL)."""
    options: list[str] = []
    wants_value = False
    for match in re.finditer(r"\S+", line):
        token = match.group()
        if wants_value or _OPTION.fullmatch(token):
            options.append(token)
            wants_value = not wants_value and token in _OPTIONS_WITH_VALUE
            continue
        return options, line[match.start() :].strip()
    return options, ""


def without_comment(words: str) -> str:
    """``words`` up to a ``#`` that starts a word outside quotes, as a shell reads a comment.

    Only for what on a ``%db``/``%%db`` line is not SQL: options, a connection name,
    a subcommand and its arguments (``%db use warehouse  # the replica``). A line
    query is SQL to its end and is never cut: in PostgreSQL ``#`` is an operator
    (``5 # 3``, ``doc #>> '{a,b}'``), so stripping it would change the query; SQL's
    own ``-- ...`` is the comment there.
    """
    quote: str | None = None
    for index, char in enumerate(words):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or words[index - 1].isspace()):
            return words[:index].rstrip()
    return words
