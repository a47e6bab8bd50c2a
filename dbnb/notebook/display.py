"""How a ``%db`` result shows: the line above it (connection, rows, elapsed, and
"showing N of M rows" when the display is capped), the cap itself, the
connections ``%db`` lists, and the one-line summary of a cell. Nothing here
imports IPython: ``magics.py`` registers ``ResultDisplay``'s formatters.
"""

from __future__ import annotations

import html
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from dbnb.config import Config, ConnectionConfig
from dbnb.notebook import cells


class ResultDisplay:
    """The display of the frames the magic returned; any other frame shows as pandas shows it.

    ``limit()`` is the rows shown at most (0: no cap), read at each display so
    ``%config DbMagics.display_limit = N`` applies at once.
    """

    def __init__(self, limit: Callable[[], int]) -> None:
        self.limit = limit
        self._shown: dict[int, weakref.ref[pd.DataFrame]] = {}

    def returned(self, frame: pd.DataFrame) -> None:
        """Remember that the magic returned ``frame`` (until it is gone)."""
        key = id(frame)
        self._shown[key] = weakref.ref(frame, lambda _: self._shown.pop(key, None))

    def _is_capped(self, frame: pd.DataFrame) -> bool:
        return self.limit() > 0 and self._returned(frame)

    def _returned(self, frame: pd.DataFrame) -> bool:
        """Whether the magic returned this very frame (not one derived from it)."""
        ref = self._shown.get(id(frame))
        return ref is not None and ref() is frame

    def _banner(self, frame: pd.DataFrame) -> str | None:
        """The line above a result: connection, rows, elapsed; "showing N of M rows"
        when the display is capped. The frame itself is not changed."""
        if not self._returned(frame) or "connection" not in frame.attrs:
            return None
        rows = len(frame)
        line = (
            f"{frame.attrs['connection']}: {rows:,} row{'' if rows == 1 else 's'} "
            f"in {seconds(float(frame.attrs.get('elapsed', 0.0)))}"
        )
        if self._is_capped(frame) and rows > self.limit():
            line += f", showing {self.limit()} of {rows:,} rows"
        if "guarded" in frame.attrs:
            because = frame.attrs["guarded"]
            line += f"; read on the slower guarded path: {because} has no columnar rule"
        return line

    @contextmanager
    def _display_options(self, frame: pd.DataFrame) -> Iterator[None]:
        if self._is_capped(frame):
            limit = self.limit()
            with pd.option_context("display.max_rows", limit, "display.min_rows", limit):
                yield
        else:
            yield

    def format_html(self, frame: pd.DataFrame) -> str | None:
        with self._display_options(frame):
            shown: str | None = getattr(frame, "_repr_html_")()  # noqa: B009 (not in the stubs)
        banner = self._banner(frame)
        if shown is None or banner is None:
            return shown
        return f'<p class="dbnb-banner"><small>{html.escape(banner)}</small></p>\n{shown}'

    def format_text(self, frame: pd.DataFrame, printer: Any, cycle: bool) -> None:
        banner = self._banner(frame)
        with self._display_options(frame):
            printer.text(repr(frame) if banner is None else f"{banner}\n{frame!r}")


def connections(config: Config, current: str | None) -> pd.DataFrame:
    """What ``%db`` lists: one row per configured connection, ``*`` on the current one.

    When an entry is broken (a missing variable, a bad key), a ``problem`` column
    says what is wrong with it on its row; using it raises that ``ConfigError``.
    """
    names = config.names
    entries = [config.connections.get(name) for name in names]
    listed = pd.DataFrame(
        {
            "current": ["*" if name == current else "" for name in names],
            "connection": names,
            "type": [entry.backend if entry else "" for entry in entries],
            "url": [short_url(entry) if entry else "" for entry in entries],
            "readonly": [entry.readonly if entry else pd.NA for entry in entries],
        }
    ).astype({"current": "string", "connection": "string", "type": "string", "url": "string"})
    if config.problems:
        listed["readonly"] = listed["readonly"].astype("boolean")
        listed["problem"] = pd.array([config.problem(name) or "" for name in names], "string")
    return listed


def short_url(entry: ConnectionConfig) -> str:
    """The masked URL; a database's file relative to the current folder when that is shorter."""
    database = entry.database_file
    if database is None or not os.path.isabs(database):
        return entry.safe_url
    relative = os.path.relpath(database)
    if len(relative) >= len(database):
        return entry.safe_url
    return entry.url.set(database=relative).render_as_string(hide_password=True)


def summary(result: cells.CellResult) -> str:
    """One line: connection, rows, elapsed."""
    statements = f"{result.statements} statements, " if result.statements > 1 else ""
    if result.frame is not None:
        rows = f"{result.rows} row" + ("" if result.rows == 1 else "s")
    else:
        rows = f"{result.rows} row{'' if result.rows == 1 else 's'} changed"
    done = ", committed" if result.write else ""
    return f"{result.connection}: {statements}{rows}{done} in {seconds(result.elapsed)}"


def seconds(elapsed: float) -> str:
    return f"{elapsed * 1000:.1f} ms" if elapsed < 1 else f"{elapsed:.2f} s"
