"""Background queries in a notebook: ``%%db NAME --bg -o VAR``, ``%db jobs``, ``%db cancel N``.

``%%db --bg`` submits the cell's one statement as a job (``dbnb.read.jobs``) and returns
at once. A follower thread keeps a status line up to date (elapsed, rows so far) and,
when the query ends, sets the notebook variable ``VAR`` to its result. In a Jupyter
kernel the line is one display that the thread updates in place; elsewhere (a
terminal, IPython under nbval or a test) it is printed once, and once more only if
the query failed. Nothing here imports IPython: ``magics.py`` passes in ``display``.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, MutableMapping
from concurrent import futures
from typing import Any

import pandas as pd

from dbnb.connections.facade import Facade
from dbnb.errors import DbnbError, one_line
from dbnb.notebook import cells, display
from dbnb.read import jobs, progress
from dbnb.read.formats import Output

# IPython's ``display(obj, display_id=True)``: a handle whose ``update(obj)`` replaces it.
Display = Callable[..., Any]
_EVERY = 1.0  # seconds between two updates of a status line
_SQL_SHOWN = 60  # characters of a statement ``%db jobs`` shows


class StatusLine:
    """One line on a job: shown as text (``repr``) wherever it is displayed."""

    def __init__(self, job: jobs.Job, out: str | None) -> None:
        self.text = status_line(job, out)

    def __repr__(self) -> str:
        return self.text


def status_line(job: jobs.Job, out: str | None) -> str:
    """``job 3 on 'warehouse': running, 12.0 s, 1,200 rows so far; -o late when it ends``."""
    head = f"job {job.id} on {job.connection!r}"
    took = display.seconds(job.elapsed)
    rows = f"{job.rows:,} row{'' if job.rows == 1 else 's'}"
    state = job.state
    if state == "running":
        then = f"; `{out}` is set when it ends" if out else ""
        return f"{head}: running, {took}, {rows} so far{then} (%db cancel {job.id})"
    if state == "done":
        into = f" -> `{out}`" if out else ""
        return f"{head}: done in {took}, {rows}{into}"
    if state == "cancelled":
        return f"{head}: cancelled after {took}"
    return f"{head}: failed after {took}: {one_line(job.exception())}"


def background(
    db: Facade,
    cell: str,
    namespace: MutableMapping[str, Any],
    *,
    out: str | None,
    output: Output,
    show: Display,
) -> None:
    """Submit the cell's statement (``:name`` bound from ``namespace``) as a job; ``out``
    is set in ``namespace`` to its result when it ends."""
    sql, params = cells.one_statement(db, cell, namespace)
    job = db.submit(sql, params, output=output)
    handle = show(StatusLine(job, out), display_id=True) if progress.in_kernel() else None
    if handle is None:
        print(status_line(job, out))
    # In the cell's own context: a kernel (ipykernel 7) finds there which cell the
    # status line's updates belong to, whatever cell runs when they are sent.
    follower = threading.Thread(
        target=contextvars.copy_context().run,
        args=(_follow, job, out, namespace, handle),
        name=f"dbnb-job-{job.id}-status",
        daemon=True,
    )
    follower.start()


def _follow(
    job: jobs.Job, out: str | None, namespace: MutableMapping[str, Any], handle: Any
) -> None:
    """Keep ``handle`` up to date until ``job`` ends, then set ``out`` and say how it ended."""
    while not futures.wait([job], timeout=_EVERY).done:
        if handle is not None:
            handle.update(StatusLine(job, out))
    if job.state == "done" and out is not None:
        namespace[out] = job.result()
    if handle is not None:
        handle.update(StatusLine(job, out))
    elif job.state == "failed":
        print(status_line(job, out))


def listing() -> pd.DataFrame:
    """``%db jobs``: the jobs of this process, each statement shortened to one line."""
    frame = jobs.jobs()
    frame["sql"] = [jobs.shortened(sql, _SQL_SHOWN) for sql in frame["sql"]]
    return frame


def cancel(words: list[str]) -> str:
    """``%db cancel N``: stop job N's statement on the server; the line that says so."""
    if len(words) != 1 or not words[0].isdigit():
        raise DbnbError("usage: %db cancel N  (N: a job's id, as %db jobs lists it)")
    job_id = int(words[0])
    job = jobs.running(job_id)
    if job is None:
        listed = jobs.status(job_id)
        if listed is None:
            raise DbnbError(f"there is no job {job_id}; %db jobs lists the jobs")
        raise DbnbError(f"job {job_id} already ended ({listed['state']}): nothing to cancel")
    if not job.cancel():
        return f"job {job_id} on {job.connection!r} ended before it could be cancelled"
    return f"job {job_id} on {job.connection!r}: cancelled, its statement stopped on the server"
