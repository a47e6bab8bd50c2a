"""The explore grid: an ``Explorer`` (``dbnb.read.explore``) drawn as a widget in
JupyterLab, Notebook 7 and VS Code (anywidget), where the database does every step.

The browser side (``grid.js``) holds the page on screen and sends the user's clicks
back as the view's state: ``page``, ``page_size``, ``sort``, ``filters`` (the text
typed under each header), ``search``. Each change here becomes the explorer's view and
one read in the background (``Explorer.submit_page``); a read still running for an
earlier click is cancelled on the server, and its answer, should it come, is dropped.
A change of the view also counts its rows in the background; the grid shows "counting"
until the count comes.

A notebook with no widget front end (nbconvert, nbval) shows the first page and the
count as HTML, which this module puts beside the widget in the same output.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import threading
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import anywidget
import pandas as pd
import traitlets

from dbnb.errors import DbnbError, OptionError, one_line
from dbnb.read.explore import Explorer
from dbnb.read.explore_source import Kind
from dbnb.see import exports

_HERE = Path(__file__).parent
WIDGET = "application/vnd.jupyter.widget-view+json"
COUNT_WAIT = 1.0  # seconds the static HTML waits for the count before saying "counting"
_TEXT_LIMIT = 200  # characters of a cell sent to the browser


class Grid(anywidget.AnyWidget):
    """An explorer's grid; ``Grid(explorer)`` reads the first page before it returns."""

    _esm = _HERE / "grid.js"
    _css = _HERE / "grid.css"

    title = traitlets.Unicode("").tag(sync=True)
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    kinds = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # The page's cells as text (None: NULL).
    rows: traitlets.List[list[str | None]] = traitlets.List().tag(sync=True)
    page = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(50).tag(sync=True)
    sort: traitlets.List[Any] = traitlets.List().tag(sync=True)  # [] or [column, descending]
    filters = traitlets.Dict().tag(sync=True)  # column -> what the user typed
    search = traitlets.Unicode("").tag(sync=True)
    count = traitlets.Int(None, allow_none=True).tag(sync=True)
    loading = traitlets.Bool(False).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    sql = traitlets.Unicode("").tag(sync=True)  # the view's SQL, for "copy SQL"
    summary = traitlets.Dict().tag(sync=True)

    def __init__(self, explorer: Explorer) -> None:
        base = explorer.view
        super().__init__(
            title=f"{explorer.db.name}: {explorer.label}",
            columns=explorer.columns,
            kinds=[explorer.kinds.get(name, "other") for name in explorer.columns],
            page_size=explorer.page_size,
            sort=list(base.sort) if base.sort else [],
            search=base.search or "",
        )
        self.explorer = explorer
        self._base = base  # filters set in Python stay under the grid's own
        self._lock = threading.Lock()
        self._asked = 0  # the newest request: an older one's answer is dropped
        self._reading: Future[Any] | None = None
        self._counting: Future[Any] | None = None
        self.first = explorer.page(0)  # the static HTML's, and the grid's first rows
        self.rows = _cells(self.first)
        self.sql = _copyable(*explorer.sql())
        self._count_view()
        self.observe(self._viewed, names=["sort", "filters", "search"])
        self.observe(self._paged, names=["page", "page_size"])
        self.on_msg(self._asked_for)

    # --- the browser's changes ----------------------------------------------------------

    def _viewed(self, change: Any = None) -> None:
        before = self.explorer.view
        try:
            self.explorer.view = self._view()
        except (OptionError, ValueError) as error:
            self.explorer.view = before
            self.error = one_line(error)
            return
        self.sql = _copyable(*self.explorer.sql())
        self._count_view()
        self._read_page()

    def _paged(self, change: Any = None) -> None:
        if change is not None and change["name"] == "page_size":
            self.explorer.page_size = self.page_size
        self._read_page()

    def _view(self) -> Any:
        """The explorer's view: what Python set, under what the grid's user set."""
        explorer = self.explorer
        explorer.view = self._base
        for column, typed in self.filters.items():
            op, value = parse_filter(str(typed), explorer.kinds.get(column, "other"), column)
            explorer.filter(column, op, value)
        if self.sort:
            explorer.sort(self.sort[0], descending=bool(self.sort[1]))
        view = explorer.view
        return replace(view, search=self.search or self._base.search)

    def _read_page(self) -> None:
        with self._lock:
            self._asked += 1
            asked, stale = self._asked, self._reading
            self.error = self.message = ""
            self.loading = True
            try:
                self._reading = self.explorer.submit_page(self.page)
            except DbnbError as error:
                self._reading, self.loading, self.error = None, False, one_line(error)
                return
            reading = self._reading
        _cancel(stale)
        reading.add_done_callback(lambda done: self._page_read(done, asked))

    def _page_read(self, done: Future[Any], asked: int) -> None:
        with self._lock:
            if asked != self._asked or done.cancelled():
                return  # an answer to a click the user has clicked past
            self.loading = False
            error = done.exception()
            if error is not None:
                self.error = one_line(error)
            else:
                self.rows = _cells(done.result())

    def _count_view(self) -> None:
        with self._lock:
            stale, self.count = self._counting, None
            self._counting = counting = self.explorer.submit_count()
        _cancel(stale)
        counting.add_done_callback(self._counted)

    def _counted(self, done: Future[Any]) -> None:
        with self._lock:
            if done is not self._counting or done.cancelled():
                return
            if done.exception() is None:
                self.count = int(done.result())

    def _asked_for(self, widget: Any, content: dict[str, Any], buffers: Any) -> None:
        """A message from the browser: a column's summary, or an export of the view."""
        if "summary" in content:
            threading.Thread(target=self._summarise, args=(str(content["summary"]),)).start()
        elif content.get("export") in ("csv", "parquet"):
            threading.Thread(target=self.export, args=(str(content["export"]),)).start()

    # --- what the grid's buttons do, callable from Python too --------------------------

    def _summarise(self, column: str) -> None:
        try:
            found = self.explorer.summary(column)
        except DbnbError as error:
            self.error = one_line(error)
            return
        self.summary = {name: _shown(value) for name, value in found.items()}

    def export(self, kind: str, path: str | Path | None = None) -> Path:
        """Write the current view to ``path`` (default: its name in the working folder)
        as CSV or Parquet, through dbnb's writers; the grid says how many rows."""
        target = Path(path) if path is not None else Path.cwd() / f"{_file_name(self)}.{kind}"
        try:
            if kind == "parquet":
                sql, params = self.explorer.sql()
                written = self.explorer.db.query_to_parquet(sql, target, params)
            else:
                written = exports.to_csv(self.explorer.frame(), target)
        except DbnbError as error:
            self.error = one_line(error)
            raise
        self.message = f"{written:,} row{'' if written == 1 else 's'} written to {target}"
        return target

    def close(self) -> None:
        """Close the widget, and cancel on the server what it still reads."""
        with self._lock:
            self._asked += 1
            running = [self._reading, self._counting]
        for job in running:
            _cancel(job)
        super().close()

    def static_html(self) -> str:
        """The first page and the count: what shows where no widget can."""
        counting = self._counting
        total: int | None = None
        if counting is not None:
            try:
                total = int(counting.result(timeout=COUNT_WAIT))
            except Exception:  # not counted yet, or failed: the grid says which
                total = None
        return self.explorer.static_html(self.first, total)


def bundle(explorer: Explorer) -> dict[str, Any]:
    """An explorer's display in a kernel: the grid, and beside it the first page and the
    count as HTML for a notebook with no widget front end."""
    grid = Grid(explorer)
    shown: Any = grid._repr_mimebundle_()
    data = shown[0] if isinstance(shown, tuple) else shown
    return {WIDGET: data[WIDGET], "text/html": grid.static_html()}


# --- what the user typed under a header --------------------------------------------------

_COMPARED = (">=", "<=", "!=", "<>", "=", ">", "<")
_WORDED = re.compile(r"^(?P<op>ilike|like|in)\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)


def parse_filter(text: str, kind: Kind, column: str) -> tuple[str, Any]:
    """A filter typed under ``column``'s header as the explorer's ``(op, value)``.

    ``= x``, ``!= x``, ``> x`` (and ``>=``, ``<``, ``<=``), ``in a, b``, ``like p``,
    ``ilike p``, ``is null``, ``is not null``; bare text: contains it (any case, its
    ``%`` and ``_`` taken literally) on a text column, ``=`` on any other. A value is
    read as the column's kind (a number, a time, true/false); quotes around it go.
    """
    typed = text.strip()
    lowered = " ".join(typed.lower().split())
    if lowered in ("is null", "is not null"):
        return lowered, None
    for op in _COMPARED:
        if typed.startswith(op):
            return ("!=" if op == "<>" else op), _typed(typed[len(op) :], kind, column)
    worded = _WORDED.match(typed)
    if worded is not None:
        op, rest = worded["op"].lower(), worded["rest"]
        if op == "in":
            return op, [_typed(part, kind, column) for part in rest.split(",") if part.strip()]
        return op, _unquoted(rest)
    if kind == "text":
        return "contains", _unquoted(typed)
    return "=", _typed(typed, kind, column)


def _typed(text: str, kind: Kind, column: str) -> Any:
    value = _unquoted(text)
    try:
        if kind == "number":
            number = decimal.Decimal(value)
            return int(number) if number == number.to_integral_value() else float(number)
        if kind == "time":
            return pd.Timestamp(value).to_pydatetime()
        if kind == "duration":
            return pd.Timedelta(value).to_pytimedelta()
        if kind == "bool":
            return {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}[
                value.lower()
            ]
    except (decimal.InvalidOperation, ValueError, KeyError):
        expected = {
            "number": "a number",
            "time": "a date or time",
            "duration": "a duration (1 hour, 00:30:00)",
            "bool": "true or false",
        }
        raise OptionError(f"column {column!r}: {value!r} is not {expected[kind]}") from None
    return value


def _unquoted(text: str) -> str:
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- cells and values as the browser shows them ----------------------------------------


def _cells(frame: pd.DataFrame) -> list[list[str | None]]:
    """A page's cells as text (None: NULL), each cut to ``_TEXT_LIMIT`` characters."""
    return [[_cell(value) for value in row] for row in frame.itertuples(index=False)]


def _cell(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str, ensure_ascii=False)
    elif hasattr(value, "tolist") and not isinstance(value, str):  # an array's items
        text = json.dumps(value.tolist(), default=str, ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _shown(value: Any) -> Any:
    """A summary's value as JSON carries it: numbers as numbers, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _cell(value)


def _copyable(sql: str, params: dict[str, Any]) -> str:
    """The view's SQL with its values listed under it (the values stay out of the text)."""
    if not params:
        return sql
    values = ", ".join(f"{name}={value!r}" for name, value in params.items())
    return f"{sql}\n-- params: {values}"


def _file_name(grid: Grid) -> str:
    label = grid.explorer.label if " " not in grid.explorer.label else "view"
    return re.sub(r"[^\w.-]+", "_", label) or "view"


def _cancel(job: Future[Any] | None) -> None:
    """Cancel ``job`` on the server without waiting for it here (the user goes on)."""
    if job is not None and not job.done():
        threading.Thread(target=job.cancel, daemon=True).start()
