"""The ``dbnb`` command line: a thin layer over the library.

    dbnb list                               the connections, URLs masked, problems
    dbnb health [NAME ...]                  exit code 0 only when healthy
    dbnb query NAME "SQL" [--param k=v]     read-only, as table, csv, json or parquet
    dbnb tables NAME
    dbnb describe NAME TABLE
    dbnb demo [NAME]                        what `make demo` runs
    dbnb server start|stop|status           the local development PostgreSQL (pgserver:)
    dbnb migrate NAME ACTION [REVISION]     Alembic: revision, upgrade, downgrade, check, ...
    dbnb secret set|delete NAME             a password in the system keyring, for ${keyring}

Errors are one line on stderr: a ``DbnbError`` exits with 1, bad usage with 2
(argparse's own convention); ``server status`` exits with 3 when the server is
stopped (as ``pg_ctl status`` does).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dbnb.cli.output import write_frame
from dbnb.config import CONFIG_ENV
from dbnb.connections.health import CONNECT_TIMEOUT
from dbnb.engine import remedies
from dbnb.errors import DbnbError

# The parser and --help need none of these: each command imports what it uses, so
# `dbnb --help` does not load pandas, pyarrow or SQLAlchemy.
if TYPE_CHECKING:
    from dbnb.connections.registry import Registry

PROG = "dbnb"
FORMATS = ("table", "csv", "json", "parquet")
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_STOPPED = 3  # `server status`: not running, the LSB/pg_ctl code
# What upgrade and downgrade go to when no revision is given.
MIGRATE_TARGETS = {"upgrade": "head", "downgrade": "-1"}


LIST_DTYPES = {
    "name": "string",
    "default": "string",
    "type": "string",
    "url": "string",
    "readonly": "boolean",
    "problem": "string",  # a broken entry's ConfigError, without file and name; else null
}


def cmd_list(registry: Registry, args: argparse.Namespace) -> int:
    import pandas as pd

    config = registry.config
    rows = []
    for name in config.names:
        connection = config.connections.get(name)
        rows.append(
            {
                "name": name,
                "default": "*" if name == config.default else "",
                "type": connection.backend if connection else None,
                "url": connection.safe_url if connection else None,
                "readonly": connection.readonly if connection else None,
                "problem": config.problem(name),
            }
        )
    for nudge in config.nudges:  # a password in plain text: once, on stderr
        print(f"{PROG}: warning: {nudge}", file=sys.stderr)
    if not rows:
        where = config.path or "no config file found"
        print(f"no connections configured ({where})", file=sys.stderr)
    frame = pd.DataFrame(rows, columns=list(LIST_DTYPES)).astype(LIST_DTYPES)
    if args.format == "table":
        frame = frame.astype(object).fillna("")  # for the eye: blank, not <NA>
    write_frame(frame, args.format, args.output)
    return 0


def cmd_health(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.connections import health as health_

    names = args.name or registry.names
    if not names:
        raise DbnbError("no connections configured; nothing to check")
    results = health_.check_named(registry.connect, names, timeout=args.timeout)
    write_frame(health_.frame(results), args.format, args.output)
    return 0 if all(result.ok for result in results) else EXIT_ERROR


def cmd_query(registry: Registry, args: argparse.Namespace) -> int:
    frame = registry.connect(args.name).query(
        args.sql, dict(args.param), timeout=args.timeout, max_rows=args.max_rows
    )
    write_frame(frame, args.format, args.output)
    return 0


def cmd_tables(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.connections import inspect

    write_frame(inspect.tables(registry.connect(args.name)), args.format, args.output)
    return 0


def cmd_describe(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.connections import inspect

    frame = inspect.describe(registry.connect(args.name), args.table)
    write_frame(frame, args.format, args.output)
    return 0


def cmd_demo(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.devtools import demo

    if args.config is not None:
        # The demo uses dbnb.connect(), which finds the config by the lookup order.
        os.environ[CONFIG_ENV] = str(args.config)
    return demo.main(args.name)


def cmd_server(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.devtools import pgserver

    server = pgserver.load_pgserver(args.config)
    action = {"start": pgserver.start, "stop": pgserver.stop, "status": pgserver.status}
    status = action[args.action](server)
    print(status)
    return EXIT_STOPPED if args.action == "status" and not status.running else 0


def cmd_secret(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.config import secrets

    if args.action == "delete":
        found = secrets.delete(args.name)
        print(
            f"{args.name}: "
            + ("password deleted from the keyring" if found else "no password in the keyring")
        )
        return 0 if found else EXIT_ERROR
    ask = getpass.getpass if sys.stdin.isatty() else _read_line  # a pipe: `... | dbnb secret set`
    print(secrets.store_asked(args.name, ask))
    return 0


def _read_line(_prompt: str) -> str:
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def cmd_migrate(registry: Registry, args: argparse.Namespace) -> int:
    from dbnb.devtools import migrate

    where = {"registry": registry, "directory": args.directory}
    if args.action == "revision":
        if not args.message:
            raise DbnbError("revision needs a message: -m 'what this migration does'")
        path = migrate.revision(
            args.name, args.message, autogenerate=args.autogenerate, models=args.models, **where
        )
        print(f"{args.name}: wrote {path}")
    elif args.action in ("upgrade", "downgrade"):
        run = migrate.upgrade if args.action == "upgrade" else migrate.downgrade
        run(args.name, args.target or MIGRATE_TARGETS[args.action], models=args.models, **where)
        at = migrate.current(args.name, **where)
        print(f"{args.name}: at {', '.join(at) or 'base (no migration applied)'}")
    elif args.action == "check":
        migrate.check(args.name, models=args.models, **where)
        print(f"{args.name}: the database is at head and matches the models")
    elif args.action == "current":
        print(", ".join(migrate.current(args.name, **where)) or "base (no migration applied)")
    else:
        lines = migrate.history(args.name, **where)
        print(
            "\n".join(lines)
            if lines
            else f"no migrations yet in {args.directory or 'the migrations folder'}"
        )
    return 0


# --- the parser ---------------------------------------------------------------------


def parse_param(text: str) -> tuple[str, Any]:
    """``name=text`` binds a string; ``name:=json`` binds a JSON value (5, true, null, ...)."""
    name, separator, value = text.partition("=")
    if not separator or not name or name == ":":
        raise argparse.ArgumentTypeError(f"expected name=value or name:=json, got {text!r}")
    if name.endswith(":"):
        try:
            return name[:-1], json.loads(value)
        except json.JSONDecodeError:
            raise argparse.ArgumentTypeError(
                f"{name[:-1]}: not a JSON value: {value!r} (use {name[:-1]}=... for text)"
            ) from None
    return name, value


def _output_options() -> argparse.ArgumentParser:
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--format", "-f", choices=FORMATS, default="table", help="output format (default: table)"
    )
    shared.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )
    return shared


Command = Callable[["Registry", argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Subcommand:
    """One ``dbnb COMMAND``: what runs it, its help with an example, its own arguments."""

    run: Command
    summary: str
    example: str
    arguments: Arguments
    tabular: bool = True  # prints a table: takes --format and --output


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the connection")


def _health_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", nargs="*", metavar="NAME", help="the connections to check (default: all)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up connecting after this long (default: {CONNECT_TIMEOUT})",
    )


def _query_arguments(parser: argparse.ArgumentParser) -> None:
    _name_argument(parser)
    parser.add_argument("sql", metavar="SQL", help="one statement, with :name placeholders")
    parser.add_argument(
        "--param",
        "-p",
        type=parse_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a bound parameter (repeat for more)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="cancel the statement after this long (default: the connection's statement_timeout)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        metavar="N",
        help="refuse a result of more than N rows (default: the connection's max_rows)",
    )


def _describe_arguments(parser: argparse.ArgumentParser) -> None:
    _name_argument(parser)
    parser.add_argument("table", metavar="TABLE", help="a table name, or schema.table")


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="the connection (default: default)")


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("start", "stop", "status"), help="what to do")


def _migrate_arguments(parser: argparse.ArgumentParser) -> None:
    _name_argument(parser)
    parser.add_argument(
        "action",
        choices=("revision", "upgrade", "downgrade", "check", "history", "current"),
        help="revision writes a migration; upgrade/downgrade apply them; check compares",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="REVISION",
        help="for upgrade (default: head) and downgrade (default: -1): a revision, head, "
        "base, +N or -N",
    )
    parser.add_argument("-m", "--message", help="revision: what the migration does")
    parser.add_argument(
        "--autogenerate", action="store_true", help="revision: write it from the models' changes"
    )
    parser.add_argument(
        "--models",
        metavar="MODULE",
        help="the models: package.module or package.module:Base (default: migrations.models)",
    )
    parser.add_argument(
        "--directory",
        type=Path,
        metavar="DIR",
        help="the migration scripts (default: migrations.directory, else migrations/ "
        "beside the config)",
    )


def _secret_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("set", "delete"), help="store or forget the password")
    parser.add_argument("name", metavar="NAME", help="the connection")


SUBCOMMANDS = {
    "list": Subcommand(
        cmd_list,
        "List the configured connections (passwords masked); * marks the default. "
        "A broken entry is listed with its problem, and fails only when it is used.",
        "dbnb list --format json",
        _no_arguments,
    ),
    "health": Subcommand(
        cmd_health,
        "Check connections: reachable, version, latency, read-only enforced, pool. "
        "Exit code 0 only when every checked connection is healthy.",
        "dbnb health warehouse replica || echo 'warehouse or replica is down'",
        _health_arguments,
    ),
    "query": Subcommand(
        cmd_query,
        "Run one read-only SQL statement and print its rows. Values are bound, never spliced: "
        "--param name=text binds a string, --param name:=json a number, true, null...",
        'dbnb query warehouse "SELECT * FROM orders WHERE region = :region AND total > :min" '
        "--param region=EU --param min:=100 --format parquet --output orders.parquet",
        _query_arguments,
    ),
    "tables": Subcommand(
        cmd_tables,
        "List the tables and views of a connection.",
        "dbnb tables local",
        _name_argument,
    ),
    "describe": Subcommand(
        cmd_describe,
        "Show a table's columns: type, nullable, default, primary key.",
        "dbnb describe warehouse public.orders",
        _describe_arguments,
    ),
    "demo": Subcommand(
        cmd_demo,
        "Create a sample table on a connection (default: the default one) and query it.",
        "dbnb demo local",
        _demo_arguments,
        tabular=False,
    ),
    "server": Subcommand(
        cmd_server,
        "Start, stop or show the local development PostgreSQL of the config's pgserver: block "
        "(from Docker where an engine answers, else the installed binaries; data kept). "
        "status exits with 3 when the server is stopped.",
        "dbnb server start && dbnb query dev 'SELECT version()'",
        _server_arguments,
        tabular=False,
    ),
    "secret": Subcommand(
        cmd_secret,
        "Store a connection's password in the system keyring (asked without echo, or read "
        "from a pipe), where `password: ${keyring}` in its entry finds it; or delete it.",
        "dbnb secret set warehouse",
        _secret_arguments,
        tabular=False,
    ),
    "migrate": Subcommand(
        cmd_migrate,
        "Alembic migrations on a named connection, from the project's models "
        "(migrations: block, or --models). check exits with 1 when models and database differ.",
        'dbnb migrate dev revision --autogenerate -m "add orders" && dbnb migrate dev upgrade head',
        _migrate_arguments,
        tabular=False,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Named database connections from etc/infra.yaml, from the terminal.",
        epilog='example:\n  dbnb query warehouse "SELECT * FROM orders LIMIT 5" --format csv',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"the config file (default: ${CONFIG_ENV}, else etc/infra.yaml found upwards)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    output = _output_options()
    for name, command in SUBCOMMANDS.items():
        sub = commands.add_parser(
            name,
            help=command.summary,
            description=command.summary,
            epilog=f"example:\n  {command.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[output] if command.tabular else [],
        )
        sub.set_defaults(run=command.run)
        command.arguments(sub)
    return parser


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning as the command's other messages are: one line on stderr."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "format", None) == "parquet" and args.output is None:
        parser.error("--format parquet needs --output FILE (Parquet is binary)")
    from dbnb.connections.registry import Registry  # the library loads once the arguments are good

    registry = Registry(args.config)
    warnings.showwarning = _one_line_warning
    try:
        with remedies.origin("cli"):  # errors name the options to use (--max-rows, ...)
            code: int = args.run(registry, args)
        return code
    except DbnbError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `dbnb query ... | head`: the reader left; say nothing more.
        sys.stderr.close()
        return EXIT_ERROR
    finally:
        registry.close()
