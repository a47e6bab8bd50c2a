"""What to do instead, said where the user is.

An error names its remedy in the words of the place it was met: a Python call
(``db.session(write=True)``, ``max_rows=``), a ``%%db`` cell (``--write``), the
command line (``--max-rows``), or a tool handed ``db.engine`` (pandas'
``to_sql``, ``SQLModel.metadata.create_all``, jupysql), whose connections dbnb
did not open for a purpose. The front ends say where they are with ``origin``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

Origin = Literal["python", "async", "cell", "cli", "engine"]

_ORIGIN: ContextVar[Origin] = ContextVar("dbnb_origin", default="python")

_HOW_TO_WRITE: dict[Origin, str] = {
    "python": "to write on purpose, use db.session(write=True) or db.write(...)",
    "async": "to write on purpose, use db.async_session(write=True) or db.write(...)",
    "cell": "to write on purpose, add --write to the %db or %%db line",
    "cli": "dbnb query only reads; write from Python (db.write(...), "
    "db.session(write=True)) or in a %%db NAME --write cell",
    "engine": "db.engine reads only: create a model's tables with db.create_tables(Model); "
    "for pandas' to_sql, jupysql and other tools take dbnb.sql_engine(NAME, write=True); "
    "or use db.session(write=True) or db.write(...)",
}
_RAISE_MAX_ROWS: dict[Origin, str] = {
    "python": "pass max_rows= to query() or raise max_rows in the config",
    "async": "pass max_rows= to aquery() or raise max_rows in the config",
    "cell": "raise max_rows in the config",
    "cli": "pass --max-rows or raise max_rows in the config",
    "engine": "raise max_rows in the config",
}
_LONGER_TIMEOUT: dict[Origin, str] = {
    "python": "pass a larger timeout= to query() (0: none)",
    "async": "pass a larger timeout= to aquery() (0: none)",
    "cell": "raise statement_timeout in the config",
    "cli": "pass a larger --timeout (0: none)",
    "engine": "raise statement_timeout in the config",
}
_RAISE_TIMEOUT: dict[Origin, str] = {
    "python": "or pass timeout= to query()",
    "async": "or pass timeout= to aquery()",
    "cell": "(the notebook takes the config's)",
    "cli": "or pass --timeout",
    "engine": "",
}

# Where the values of a statement's :name placeholders come from; {values} is filled in.
_HOW_TO_BIND: dict[Origin, str] = {
    "python": "pass params={{{values}}}",
    "async": "pass params={{{values}}} to aquery()",
    "cell": "assign a notebook variable of that name first",
    "cli": "pass {options} (NAME:=JSON for a number, true or null)",
    "engine": "pass a value for each with the statement",
}


@contextmanager
def origin(where: Origin) -> Iterator[None]:
    """Errors raised inside this block name the remedies of ``where``."""
    token = _ORIGIN.set(where)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def current(*, managed: bool = True) -> Origin:
    """Where the user is; ``managed=False`` for a connection dbnb did not open itself."""
    return _ORIGIN.get() if managed else "engine"


def how_to_write(*, managed: bool = True) -> str:
    return _HOW_TO_WRITE[current(managed=managed)]


def how_to_raise_max_rows() -> str:
    return _RAISE_MAX_ROWS[current()]


def how_to_raise_timeout() -> str:
    return _RAISE_TIMEOUT[current()]


def how_to_pass_a_longer_timeout() -> str:
    return _LONGER_TIMEOUT[current()]


def how_to_bind(names: Sequence[str]) -> str:
    """How to give ``names`` (placeholders without a value) their values, here."""
    return _HOW_TO_BIND[current()].format(
        values=", ".join(f"{name!r}: ..." for name in names),
        options=" ".join(f"--param {name}=VALUE" for name in names),
    )
