"""Progress of long fetches: rows so far, in a terminal or a notebook, silent otherwise.

``fetch_rows(result, progress)`` fetches every row of a result. With progress
on, it fetches in chunks (``result.partitions()``) and counts them on a tqdm
bar that appears only once the fetch has taken ``delay`` seconds, so quick
queries stay quiet; it stays as a last line of how many rows came in how long.
``progress=None`` means "when someone is watching": stderr is a terminal, or
the code runs in a Jupyter kernel.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from sqlalchemy.engine import CursorResult, Row
from tqdm import tqdm

from dbnb.engine import stopping

CHUNK_ROWS = 10_000
DELAY_SECONDS = 1.0


def interactive() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or a notebook kernel runs."""
    if in_kernel():
        return True
    stderr = sys.stderr
    return stderr is not None and stderr.isatty()


def in_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (ipykernel merely imported is not enough)."""
    ipython = sys.modules.get("IPython")  # looked up, never imported: the core stays IPython-free
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def fetch_rows(
    result: CursorResult[Any],
    progress: bool | None = None,
    *,
    count: int | None = None,
    label: str = "",
    delay: float = DELAY_SECONDS,
    file: IO[str] | None = None,
) -> Sequence[Row[Any]]:
    """Every row of ``result``, or at most ``count``; with progress (None: when
    interactive), counted as they come."""
    if progress is None:
        progress = interactive()
    if not progress:
        if stopping.current() is None:
            return result.fetchall() if count is None else result.fetchmany(count)
        return _counted(result, count, stopping.add_rows)  # a background job's rows so far
    with _bar(label, delay, file) as bar:
        return _counted(result, count, bar.update)


def _counted(
    result: CursorResult[Any], count: int | None, counted: Callable[[int], object]
) -> Sequence[Row[Any]]:
    """Every row of ``result`` (at most ``count``), fetched in chunks, each ``counted``."""
    rows: list[Row[Any]] = []
    for chunk in result.partitions(CHUNK_ROWS):
        rows.extend(chunk)
        counted(len(chunk))
        if count is not None and len(rows) >= count:
            break
    return rows if count is None else rows[:count]


def _bar(label: str, delay: float, file: IO[str] | None) -> tqdm[Any]:
    options: dict[str, Any] = {
        "desc": label or None,
        "unit": " rows",
        "unit_scale": True,
        "delay": delay,
        "file": file,
    }
    if file is None and in_kernel() and importlib.util.find_spec("ipywidgets"):
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(**options)
    return tqdm(**options)
