"""The ``%db`` / ``%%db`` magics: a thin notebook front end over dbnb.

``%load_ext dbnb`` registers them; ``%unload_ext dbnb`` removes them. This is
the only module of dbnb that imports IPython. The magic parses its options,
calls the library, and shows or stores what comes back; errors the user can
fix (every ``dbnb.DbnbError``) become one ``UsageError`` line in one place,
``_user_errors``, while anything else (a bug in dbnb) keeps its traceback.
"""

from __future__ import annotations

import functools
import getpass
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Integer

from dbnb.backends.base import Backend
from dbnb.backends.registry import backend_for
from dbnb.config import load_config, secrets
from dbnb.connections import health, inspect
from dbnb.connections.facade import Facade
from dbnb.connections.registry import Registry
from dbnb.engine import monitor
from dbnb.errors import DbnbError, ReadOnlyError
from dbnb.notebook import background, cells, complete
from dbnb.notebook import display as cell_display
from dbnb.read import formats
from dbnb.see import exports, framesql

_HISTORY_SHOWN = 20  # statements `%db history` shows without N
_WRITE_MODES = ("append", "upsert", "replace")


@contextmanager
def _user_errors() -> Iterator[None]:
    """The one place where an error the user can fix becomes a one-line ``UsageError``."""
    try:
        yield
    except DbnbError as error:
        raise UsageError(str(error)) from None


@contextmanager
def _interrupts(shell: InteractiveShell, running: Callable[[], Facade | None]) -> Iterator[None]:
    """Ctrl-C becomes one line, ``Interrupted``, saying what happened to the statement
    on the connection the magic opened (``running()``; None: none yet)."""
    try:
        yield
    except KeyboardInterrupt as error:
        if isinstance(error, Interrupted):
            raise
        db = running()
        if db is None:
            message = "%db: interrupted (Ctrl-C)"
        else:
            stopped = db.interrupted
            done = f"; a statement still running was {stopped}" if stopped else ""
            message = f"connection {db.name!r}: interrupted (Ctrl-C){done}"
        raise Interrupted(message, shell).with_traceback(error.__traceback__) from None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a ``%db`` line or ``%%db`` cell: still a ``KeyboardInterrupt`` (a
    loop around the magic stops; a notebook run stops at its error output), shown as
    one line as every dbnb error is, the whole traceback under ``%xmode verbose``."""

    def __init__(self, message: str, shell: InteractiveShell) -> None:
        super().__init__(message)
        self.shell = shell

    def _render_traceback_(self) -> list[str]:
        """IPython's hook for how an exception shows (``InteractiveShell.showtraceback``)."""
        tracebacks: Any = self.shell.InteractiveTB
        if tracebacks.mode == "Verbose":
            shown: list[str] = tracebacks.structured_traceback(type(self), self, self.__traceback__)
            return shown
        return [f"{type(self).__name__}: {self}"]


@magics_class
class DbMagics(Magics):
    """The ``%db`` magics, holding one ``dbnb.Registry`` of named connections."""

    display_limit = Integer(
        20,
        help="Rows a %db result shows (head and tail) when it has more; 0 leaves it to pandas. "
        "The variable given with -o, and _, hold every row.",
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell, registry: Registry | None = None) -> None:
        super().__init__(shell)
        self.user_shell = shell  # typed: Magics.shell may be None
        self.registry = registry if registry is not None else Registry()
        self.current: str | None = None  # None: the config's default connection
        self._opened: Facade | None = None  # the connection this run of the magic uses
        self._told_frames = False  # a config connection `frames` hides the built-in one
        # The frames this magic returned, by id: only those get the display cap,
        # not every frame derived from them (pandas copies attrs onto those).
        self.display = cell_display.ResultDisplay(lambda: int(self.display_limit))
        self._subcommands: dict[str, Callable[[list[str]], Any]] = {
            "use": self._use,
            "tables": self._tables,
            "describe": self._describe,
            "health": self._health,
            "history": self._history,
            "write": self._write,
            "plot": self._plot,
            "profile": self._profile,
            "explore": self._explore,
            "jobs": lambda words: background.listing(),
            "cancel": lambda words: print(background.cancel(words)),
            "secret": self._secret,
        }
        # Each connection's tables and columns for completion, read in the background.
        self.schemas = complete.SchemaCache()

    # --- the magic ------------------------------------------------------------------

    @magic_arguments()
    @argument(
        "-o",
        "--out",
        metavar="VAR",
        help="also store the result, every row of it, in the notebook variable VAR",
    )
    @argument(
        "--as",
        dest="output",
        choices=["pandas", "polars", "arrow"],
        default="pandas",
        help="the result as a pandas DataFrame (default), a polars DataFrame or a pyarrow Table",
    )
    @argument("--csv", metavar="PATH", help="also write the result to PATH as CSV")
    @argument("--parquet", metavar="PATH", help="also write the result to PATH as Parquet")
    @argument(
        "--write",
        action="store_true",
        help="allow DML/DDL: all statements run in one write transaction, "
        "committed together or not at all",
    )
    @argument(
        "--explore",
        action="store_true",
        help="%%%%db: a grid over the cell's query that the database pages, sorts and filters",
    )
    @argument(
        "--bg",
        action="store_true",
        help="run the query in the background: the cell returns at once, a status line "
        "follows it, and -o VAR is set when it ends",
    )
    @argument(
        "words",
        nargs="*",
        help="%%%%db: the connection to use for this cell (default: the current one); "
        "%%db: a subcommand or SQL",
    )
    @no_var_expand  # `{x}` and `$x` in SQL are SQL text: values come in only as :x
    @line_cell_magic
    def db(self, line: str, cell: str | None = None) -> Any:
        """Query a named dbnb connection; the result is a DataFrame.

        %db                       list the connections, marking the current one
        %db use NAME              make NAME the current connection
        %db SELECT ...            run SQL on the current connection
        %db tables [SCHEMA]       the tables and views of the current connection
                                  (--refresh: what Tab offers is read again too)
        %db describe TABLE        the columns of TABLE: type, nullability, keys
        %db health [NAME ...]     reachable, server version, latency, read-only verified
                                  (default: every connection)
        %db history [N]           the newest N statements dbnb ran (default 20)
        %db secret NAME           ask for NAME's password (not shown), keep it in the
                                  keyring, where `password: ${keyring}` reads it
        %db write DF TABLE [MODE] write the DataFrame variable DF into TABLE, validated,
                                  in one transaction; MODE: append (default), upsert, replace

        %db plot KIND TABLE COLUMN [--bins N] [--top N]
                                  hist, bar or box of COLUMN, computed by the database
        %db profile TABLE         per-column statistics computed by the database
        %db explore TABLE         a grid over TABLE: the database pages, sorts, filters
        %db explain [--analyze] SQL  the plan of SQL, full width, with a summary line
        %db frames SELECT ...     SQL over the notebook's DataFrames (DuckDB), read-only

        %%db [NAME] [-o VAR] [--write] [--as pandas|polars|arrow] [--csv|--parquet PATH]
        SELECT ... WHERE region = :region

        %%db [NAME] --explore [-o VAR]
        SELECT ...                a grid over the cell's query (-o VAR: the explorer)

        %%db [NAME] --bg -o VAR   run the cell's query in the background; VAR is set
        SELECT ...                when it ends (a status line shows elapsed and rows)
        %db jobs                  the background queries: running, done, failed, cancelled
        %db cancel N              cancel job N on the server

        %%db plot KIND - COLUMN [--bins N] [--top N]
        SELECT ...                the plot of COLUMN of the cell's query, aggregated there
        %%db explain [--analyze]
        SELECT ...                the plan of the cell's statement

        %%db frames [-o VAR]      SQL over the notebook's pandas/polars/Arrow frames,
        SELECT ... FROM df        by their variable names (DuckDB, read-only)

        A `# comment` may end the %%db line and a %db line that is not SQL
        (`%db use warehouse  # the replica`); in a line query, write SQL's `-- comment`.

        A cell may hold several statements; the result of the last one that
        returns rows is shown. `:name` is bound from the notebook variable
        `name` as a parameter, never pasted into the SQL. Without --write,
        every statement runs read-only and a write is refused. The result
        shows at most `%config DbMagics.display_limit` rows (default 20)
        under a line naming the connection, the rows and the time taken;
        `_` and the -o variable hold every row. --csv and --parquet also write
        every row to a file (JSON columns as JSON text), whole or not at all.
        """
        self._opened = None
        with _interrupts(self.user_shell, lambda: self._opened), _user_errors():
            if cell is None:
                return self._line(line)
            return self._cell(line, cell)

    def _line(self, line: str) -> Any:
        options, rest = cells.split_options(line)
        args = parse_argstring(self.db, " ".join(options))
        if args.out is not None:
            cells.check_variable(args.out)  # before anything runs
        words = rest.split()
        if words and words[0].lower() == "explain":  # SQL follows: kept as written
            if options:
                raise UsageError("%db explain takes no options before it")
            namespace = self.user_shell.user_ns
            return cells.explain(self._database(), rest[len(words[0]) :], namespace, None)
        if not words or words[0].startswith("#") or words[0].lower() in self._subcommands:
            rest = cells.without_comment(rest)  # not SQL: `# ...` is a comment here
            words = rest.split()
        if not words:
            if options:
                raise UsageError("%db: options need SQL after them, e.g. %db -o df SELECT 1")
            return self._list()
        if words[0].lower() == framesql.NAME and self._builtin_frames():
            sql = rest[len(words[0]) :]
            return self._frames(sql, out=args.out, write=args.write, output=args.output)
        subcommand = self._subcommands.get(words[0].lower())
        if subcommand is not None:
            if options:
                raise UsageError(f"%db {words[0]} takes no options")
            return subcommand(words[1:])
        return self._query(self._database(), rest, args)

    def _cell(self, line: str, cell: str) -> Any:
        head = cells.without_comment(line).split()
        if head and head[0].lower() in ("plot", "explain"):  # the cell is their query
            run = cells.plot if head[0].lower() == "plot" else cells.explain
            words: Any = head[1:] if run is cells.plot else " ".join(head[1:])
            return run(self._database(), words, self.user_shell.user_ns, cell)
        args = parse_argstring(self.db, cells.without_comment(line))  # the SQL is in the cell
        if args.out is not None:
            cells.check_variable(args.out)  # before anything runs
        if len(args.words) > 1:
            raise UsageError(
                f"%%db takes one connection name, got {' '.join(args.words)!r}; "
                "write the SQL in the cell body"
            )
        if args.words and args.words[0] == framesql.NAME and self._builtin_frames():
            return self._frames(cell, out=args.out, write=args.write, output=args.output)
        db = self._database(args.words[0] if args.words else None)
        if args.explore:
            return self._explore_cell(db, cell, args)
        return self._query(db, cell, args)

    # --- queries --------------------------------------------------------------------

    def _list(self) -> pd.DataFrame:
        config = self.registry.config
        for nudge in secrets.unseen(config.nudges):  # a password in plain text: warned once
            print(f"warning: {nudge}", file=sys.stderr)
        if not config.names:
            self._database()  # raises the error that says how to configure a connection
        # The current name, not its Database: a broken default is listed, not raised.
        return cell_display.connections(
            config, self.current if self.current is not None else config.default
        )

    def _database(self, name: str | None = None) -> Facade:
        self._opened = self.registry.connect(self._named(name))
        return self._opened

    def _named(self, name: str | None) -> str | None:
        """The connection a magic means: ``name``, else the current one (None: the default)."""
        return name if name is not None else self.current

    def _query(self, db: Facade, sql: str, args: Any) -> Any:
        out, write, output = args.out, args.write, args.output
        if args.bg:
            if write or args.csv or args.parquet or args.explore:
                raise UsageError("--bg runs one read; it takes only -o VAR and --as beside it")
            namespace = self.user_shell.user_ns
            return background.background(db, sql, namespace, out=out, output=output, show=display)
        try:
            result = cells.run(
                db, sql, self.user_shell.user_ns, write=write, output=formats.check(output)
            )
        except ReadOnlyError:
            if db.config.readonly:  # --write would not help: the config says never
                raise db.config.never_writes() from None
            raise  # worded for a cell already: "add --write to the %db or %%db line"
        if write and complete.changes_schema(result.kinds):
            self.schemas.invalidate(db.name)  # completion reads the new tables next time
        if not isinstance(result.frame, pd.DataFrame):  # a pandas result shows it (_banner)
            print(cell_display.summary(result))
        if (args.csv or args.parquet) and result.frame is None:
            raise UsageError("--csv/--parquet: the cell returned no rows to write")
        for path, writer in ((args.csv, exports.to_csv), (args.parquet, exports.to_parquet)):
            if path:
                written = writer(result.frame, os.path.expanduser(path))
                print(f"{written:,} row{'' if written == 1 else 's'} written to {path}")
        return self._keep(result.frame, out)

    def _keep(self, frame: Any, out: str | None) -> Any:
        """Store a result in ``out`` if asked, and cap its display (pandas frames)."""
        if frame is None:
            return None
        if out is not None:
            self.user_shell.user_ns[out] = frame
        if not isinstance(frame, pd.DataFrame):
            return frame
        self.display.returned(frame)
        return frame

    def _builtin_frames(self) -> bool:
        """Whether ``frames`` is the built-in DuckDB over notebook frames: a connection
        of that name in the config wins (said once)."""
        try:
            named = framesql.NAME in self.registry.names
        except DbnbError:
            return True  # a config that cannot be read has no `frames` entry to prefer
        if named and not self._told_frames:
            self._told_frames = True
            print(
                "frames: using the connection 'frames' of the config; "
                "rename it to query the notebook's DataFrames with %%db frames"
            )
        return not named

    def _frames(self, sql: str, *, out: str | None, write: bool, output: str) -> Any:
        if write:
            raise UsageError("%%db frames reads only: --write does not apply")
        namespace = self.user_shell.user_ns
        # Only the frames the SQL may name are shown to DuckDB (names ignore case there).
        named = {word.lower() for word in re.findall(r"\w+", sql)}
        frames = {
            name: value
            for name, value in namespace.items()
            if name.lower() in named and not name.startswith("_") and framesql.is_frame(value)
        }
        started = time.perf_counter()
        frame = framesql.query_frames(sql, frames, namespace, output=output)  # type: ignore[arg-type]
        rows = f"{len(frame)} row" + ("" if len(frame) == 1 else "s")
        print(f"{framesql.NAME}: {rows} in {cell_display.seconds(time.perf_counter() - started)}")
        return self._keep(frame, out)

    # --- subcommands ----------------------------------------------------------------

    def _use(self, words: list[str]) -> None:
        if len(words) != 1:
            raise UsageError("usage: %db use NAME")
        db = self.registry.connect(words[0])
        # What the registry knows it by: a URL's password is in it, and stays in memory
        # (db.name is the URL with its password masked, which could not connect).
        self.current = words[0]
        mode = ", readonly" if db.config.readonly else ""
        print(f"using {db.name} ({db.config.safe_url}{mode})")

    def _secret(self, words: list[str]) -> None:
        if len(words) != 1:
            raise UsageError(
                "usage: %db secret NAME  (asks for the password, keeps it in the keyring)"
            )
        print(secrets.store_asked(words[0], getpass.getpass))  # a password field in Jupyter
        self.registry.reread()  # an entry that lacked it works now

    def _tables(self, words: list[str]) -> pd.DataFrame:
        refresh = "--refresh" in words
        words = [word for word in words if word != "--refresh"]
        if len(words) > 1:
            raise UsageError("usage: %db tables [--refresh] [SCHEMA]")
        db = self._database()
        if refresh:  # what completion offers, read again now
            self.schemas.refresh(db.name, db)
        return inspect.tables(db, schema=words[0] if words else None)

    def _describe(self, words: list[str]) -> pd.DataFrame:
        if len(words) != 1:
            raise UsageError("usage: %db describe TABLE")
        return inspect.describe(self._database(), words[0])

    def _health(self, names: list[str]) -> pd.DataFrame:
        chosen = names or self.registry.names
        return health.frame(health.check_named(self.registry.connect, chosen))

    def _history(self, words: list[str]) -> pd.DataFrame:
        if len(words) > 1 or (words and not words[0].isdigit()):
            raise UsageError("usage: %db history [N]  (the newest N statements, default 20)")
        return monitor.history(limit=int(words[0]) if words else _HISTORY_SHOWN)

    def _plot(self, words: list[str]) -> Any:
        return cells.plot(self._database(), words, self.user_shell.user_ns, None)

    def _profile(self, words: list[str]) -> pd.DataFrame:
        if len(words) != 1:
            raise UsageError("usage: %db profile TABLE")
        return self._database().profile(words[0])

    def _explore(self, words: list[str]) -> Any:
        if not words:
            raise UsageError("usage: %db explore TABLE  (or %%db --explore over a query)")
        return self._database().explore(" ".join(words))  # a name may hold spaces

    def _explore_cell(self, db: Facade, cell: str, args: Any) -> Any:
        if args.write or args.csv or args.parquet or args.bg or args.output != "pandas":
            # --bg too: the grid reads each page in the background already.
            raise UsageError("--explore shows a grid; it takes only -o VAR beside it")
        sql, params = cells.one_statement(db, cell, self.user_shell.user_ns)
        explorer = db.explore(sql, params)
        if args.out is not None:
            self.user_shell.user_ns[args.out] = explorer
        return explorer

    def _write(self, words: list[str]) -> None:
        # The subcommand is the explicit act, as db.write() is; a readonly
        # connection still never writes, and a bad row is named before anything is sent.
        if len(words) not in (2, 3) or (len(words) == 3 and words[2] not in _WRITE_MODES):
            raise UsageError("usage: %db write DF TABLE [append|upsert|replace]")
        name, table = words[0], words[1]
        frame = self.user_shell.user_ns.get(name)
        if not isinstance(frame, pd.DataFrame):
            raise UsageError(f"%db write: {name!r} is not a DataFrame in this notebook")
        mode = words[2] if len(words) == 3 else "append"
        db = self._database()
        written = db.write(frame, table, mode=mode)  # type: ignore[arg-type]
        rows = "row" if written == 1 else "rows"
        print(f"{db.name}: {written:,} {rows} written to {table} ({mode})")

    # --- completion -----------------------------------------------------------------

    def completions(self, context: CompletionContext) -> SimpleMatcherResult:
        """IPython's matcher for ``%db`` lines and ``%%db`` cells (``dbnb.notebook.complete``)."""
        lines = context.full_text.split("\n")
        offset = sum(len(line) + 1 for line in lines[: context.cursor_line])
        try:
            found = complete.complete(
                context.full_text, offset + context.cursor_position, self._sources()
            )
        except DbnbError:  # a broken config: typing goes on, `%db` will say what is wrong
            found = None
        if found is None or not context.token.endswith(found.fragment):
            return {"completions": [], "suppress": False}
        return {
            "completions": [SimpleCompletion(text, type=kind) for text, kind in found.items],
            "matched_fragment": found.fragment,
            "suppress": True,  # SQL is no Python: its names are the only ones that fit
            "ordered": True,
        }

    def _sources(self) -> complete.Sources:
        return complete.Sources(
            connections=self.registry.names,
            subcommands=[*self._subcommands, "explain", "frames"],
            current=self.current,
            schema=self._schema,
            dialect=self._dialect,
            variables=self._variables,
            frames=self._frame_names,
        )

    # A Tab reads the config only: opening a connection (its drivers' imports) is
    # left to the schema read's thread, so the first Tab answers within its wait.

    def _schema(self, name: str | None) -> complete.Schema | None:
        if name == framesql.NAME and self._quiet_builtin_frames():
            return self._frames_schema()
        try:
            key = self.registry.connection(self._named(name)).name
        except DbnbError:
            return None
        return self.schemas.get(key, lambda: self.registry.connect(self._named(name)))

    def _dialect(self, name: str | None) -> str:
        try:
            return self.registry.connection(self._named(name)).backend
        except DbnbError:  # no such connection (yet): its SQL read as any dialect's
            return Backend.name

    def _quiet_builtin_frames(self) -> bool:
        try:
            return framesql.NAME not in self.registry.names
        except DbnbError:
            return True

    def _frames_schema(self) -> complete.Schema:
        """The notebook's frames as tables, their columns as columns."""
        tables: dict[tuple[str | None, str], tuple[str, ...]] = {}
        for name, value in self.user_shell.user_ns.items():
            if not name.startswith("_") and framesql.is_frame(value):
                columns = getattr(value, "column_names", None) or list(value.columns)
                tables[(None, name)] = tuple(str(column) for column in columns)
        return complete.Schema(default=None, tables=tables)

    def _variables(self) -> list[str]:
        hidden = self.user_shell.user_ns_hidden
        return [
            name
            for name, value in self.user_shell.user_ns.items()
            if not name.startswith("_")
            and name not in hidden
            and not callable(value)
            and type(value).__name__ != "module"
        ]

    def _frame_names(self) -> list[str]:
        return sorted(
            name
            for name, value in self.user_shell.user_ns.items()
            if not name.startswith("_") and isinstance(value, pd.DataFrame)
        )


# --- the extension hooks ------------------------------------------------------------

_FORMATS = ("text/html", "text/plain")


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext dbnb``: register the magics and the display cap of their results."""
    magics = DbMagics(shell)
    shell.register_magics(magics)
    assert shell.display_formatter is not None
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, magics.display.format_html)
    formatters["text/plain"].for_type(pd.DataFrame, magics.display.format_text)
    completer: Any = shell.Completer
    if completer is not None:
        completer.custom_matchers.append(_matcher(magics))
        if getattr(completer, "use_jedi", False):
            _warm_jedi()
        _warm_drivers()


@functools.cache
def _warm_jedi() -> None:
    """Import jedi and build its grammars now, once a process.

    IPython asks jedi too whenever dbnb has nothing to offer yet (a table list
    still being read), and jedi's first use costs ~0.3 s of imports and grammar
    building: the first Tab in a ``%%db`` cell would wait for it. Here, on the
    main thread, because jedi is not safe to use from two threads at once.
    """
    try:
        import jedi  # type: ignore[import-untyped]

        jedi.Interpreter("", [{}]).complete()  # builds the grammars (parso caches them)
    except Exception:  # a warm-up only: the first Tab pays instead
        return


def _warm_drivers() -> None:
    """Import the configured databases' drivers now, at ``%load_ext``.

    The first Tab in a ``%%db`` cell waits at most ``SchemaCache.wait`` for the
    schema read, which first imports the connection's drivers (~0.3 s): done here,
    the read is one round trip. Not in a thread: imports there held the GIL
    against the main thread, and a Tab right after ``%load_ext`` took 0.25-0.55 s
    where it takes 40 ms after them. The config is read on its own, not kept: the
    registry still reads it on first use.
    """
    try:
        connections = load_config().connections.values()
    except DbnbError:
        return  # `%db` will say what is wrong with it
    for connection in connections:
        try:
            backend_for(connection.backend)
            connection.url.get_dialect().import_dbapi()  # the driver (psycopg, PyMySQL)
        except Exception:  # a warm-up only: the first use pays instead
            continue


def _matcher(magics: DbMagics) -> Any:
    """IPython's matcher (API v2) for ``%db``, marked with its magics to unload it."""

    def dbnb_matcher(context: CompletionContext) -> SimpleMatcherResult:
        return magics.completions(context)

    matcher: Any = context_matcher()(dbnb_matcher)
    matcher.dbnb_magics = magics
    return matcher


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext dbnb``: remove the magics and close the pools they opened."""
    magics = shell.magics_manager.registry.pop(DbMagics.__name__, None)
    if not isinstance(magics, DbMagics):
        return
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop("db", None)
    if shell.display_formatter is not None:
        for mime in _FORMATS:
            shell.display_formatter.formatters[mime].type_printers.pop(pd.DataFrame, None)
    completer: Any = shell.Completer
    if completer is not None:
        completer.custom_matchers[:] = [
            matcher
            for matcher in completer.custom_matchers
            if getattr(matcher, "dbnb_magics", None) is not magics
        ]
    configurables: list[Any] = shell.configurables
    if magics in configurables:
        configurables.remove(magics)
    magics.registry.close()
