"""``db.submit(sql)``: a read run in the background, as a ``Job`` (a ``concurrent.futures.Future``).

A job runs ``db.query(sql, params, **options)`` on a thread of its own, so the notebook
and other reads go on meanwhile. Its read holds one slot of the connection's budget,
like any read: it waits for one, or fails with ``PoolTimeoutError``.

The job's thread is watched (``dbnb.engine.stopping``): ``Job.cancel()`` asks the
database to end the statement, as Ctrl-C does on the main thread (PostgreSQL's cancel
request, MariaDB's ``KILL QUERY``, ``sqlite3_interrupt``, Spark's interrupt), waits
for the read to give its connection back, and the job ends cancelled: ``result()``
raises ``CancelledError``. A job cancelled before its statement was sent never sends
it. A read that fails makes ``result()`` raise its own error (a ``dbnb.DbnbError``).

To ``concurrent.futures``, a job stays pending until it ends (``running()`` says it
runs): pending is the one state ``Future.cancel`` may leave, and a job's cancel, unlike
an executor's, stops what already runs.

Every job of the process has an id (1, 2, ...). ``dbnb.jobs()`` lists those running
and the last ``KEPT`` that ended: their facts, not their results, which only the job
and whoever took its result hold.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Literal, Protocol

import pandas as pd

from dbnb.engine import stopping
from dbnb.errors import OptionError, one_line


class Source(Protocol):
    """What a job reads through: a connection (``dbnb.Facade``)."""

    @property
    def name(self) -> str: ...

    @property
    def query(self) -> Callable[..., Any]: ...  # db.query, whatever options it takes


State = Literal["running", "done", "failed", "cancelled"]
COLUMNS = ["id", "connection", "state", "elapsed_s", "rows", "sql", "error"]
KEPT = 100  # ended jobs dbnb.jobs() still lists

# A cancel asks again this often while the read has not ended (a statement that had
# not reached the server when it was first asked), and waits this long in all.
_STOP_AGAIN = 1.0
_STOP_WAIT = 15.0


class Job(Future[Any]):
    """A read running in the background: a ``Future`` of what ``db.query`` returns.

    ``result()``, ``done()``, ``cancel()`` (stops the statement on the server); while it
    runs, ``elapsed`` (seconds) and ``rows`` (read so far) for a status line.
    """

    def __init__(self, job_id: int, connection: str, sql: str, *, listed: bool = True) -> None:
        super().__init__()
        self.id = job_id
        self.listed = listed  # in dbnb.jobs(); an explorer's page reads are not
        self.connection = connection  # the connection's name
        self.sql = sql
        self._watch = stopping.Watch()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._ended_at: float | None = None
        self._ended = threading.Event()
        self._cancelling = False
        self._marked = False  # marked cancelled (once)
        self._rows: int | None = None  # the result's, once it ended

    def __repr__(self) -> str:
        return (
            f"<Job {self.id} {self.connection!r} {self.state}, {self.elapsed:.1f} s, "
            f"{self.rows:,} rows: {shortened(self.sql)}>"
        )

    @property
    def elapsed(self) -> float:
        """Seconds since it was submitted, until it ended."""
        end = self._ended_at if self._ended_at is not None else time.monotonic()
        return end - self._started

    @property
    def rows(self) -> int:
        """Rows read so far; once it ended with a result, the result's rows."""
        return self._rows if self._rows is not None else self._watch.rows

    @property
    def state(self) -> State:
        if self.cancelled():
            return "cancelled"
        if not self.done():
            return "running"
        return "failed" if self.exception() is not None else "done"

    def running(self) -> bool:
        return not self.done()

    def cancel(self) -> bool:
        """Stop the statement on the server and end the job cancelled; False if it had
        already ended (its result or error stands)."""
        with self._lock:
            if self._ended_at is not None and not self._cancelling:
                return False
            self._cancelling = True
        deadline = time.monotonic() + _STOP_WAIT
        # Until the read gave its connection back; a read with no statement running
        # yet (waiting for a connection) starts none now.
        while self._watch.stop() and not self._ended.wait(_STOP_AGAIN):
            if time.monotonic() > deadline:
                break
        self._mark_cancelled()
        return True

    def status(self) -> dict[str, Any]:
        """What ``dbnb.jobs()`` shows of it (``COLUMNS``)."""
        error = self.exception() if self.done() and not self.cancelled() else None
        return {
            "id": self.id,
            "connection": self.connection,
            "state": self.state,
            "elapsed_s": round(self.elapsed, 3),
            "rows": self.rows,
            "sql": self.sql,
            "error": None if error is None else one_line(error),
        }

    # --- the job's thread ---------------------------------------------------------------

    def start(self, read: Callable[[], Any]) -> None:
        """Run ``read()`` on a thread of its own; its result or error is the job's."""
        name = f"dbnb-job-{self.id}"
        threading.Thread(target=self._run, args=(read,), name=name, daemon=True).start()

    def _run(self, read: Callable[[], Any]) -> None:
        value: Any = None
        failure: BaseException | None = None
        try:
            with stopping.watched(self._watch):
                value = read()
        except BaseException as error:  # the job's outcome, whatever it is
            failure = error
        with self._lock:
            self._ended_at = time.monotonic()
            cancelling = self._cancelling
            if failure is None:
                self._rows = _length(value)
        self._ended.set()
        if cancelling:
            self._mark_cancelled()
        elif failure is not None:
            self.set_exception(failure)
        else:
            self.set_result(value)
        if self.listed:
            _LISTED.ended(self)

    def _mark_cancelled(self) -> None:
        with self._lock:
            if self._marked:
                return
            self._marked = True
        Future.cancel(self)  # pending -> cancelled: wakes result() and the callbacks
        self.set_running_or_notify_cancel()  # wakes concurrent.futures.wait()


def _length(value: Any) -> int | None:
    try:
        return len(value)
    except TypeError:
        return None


def shortened(sql: str, width: int = 60) -> str:
    """``sql`` on one line, cut to ``width`` characters."""
    line = " ".join(sql.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class _Listed:
    """The jobs of this process: those running, and the facts of the last that ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._running: dict[int, Job] = {}
        self._ended: deque[dict[str, Any]] = deque(maxlen=KEPT)

    def new(self, connection: str, sql: str) -> Job:
        with self._lock:
            job = Job(next(self._ids), connection, sql)
            self._running[job.id] = job
        return job

    def ended(self, job: Job) -> None:
        status = job.status()
        with self._lock:
            self._running.pop(job.id, None)
            self._ended.append(status)

    def running(self, job_id: int) -> Job | None:
        with self._lock:
            return self._running.get(job_id)

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            running = list(self._running.values())
            ended = list(self._ended)
        return sorted([*ended, *(job.status() for job in running)], key=lambda row: row["id"])


_LISTED = _Listed()


def submit(
    db: Source, sql: Any, params: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> Job:
    """``db.query(sql, params, **options)`` as a ``Job`` running in the background."""
    if options.get("chunksize") is not None:
        raise OptionError(
            f"{db.name}: a background job's result is whole; read chunks with "
            "db.query(..., chunksize=N) instead"
        )
    options = {"progress": False, **options}  # its status line, not a bar from a thread
    try:
        inspect.signature(db.query).bind(sql, params, **options)
    except TypeError as error:  # now, not in the job
        raise OptionError(f"{db.name}: db.submit takes db.query's options: {error}") from None
    job = _LISTED.new(db.name, sql if isinstance(sql, str) else str(sql))
    job.start(functools.partial(db.query, sql, params, **options))
    return job


def background(connection: str, sql: str, read: Callable[[], Any]) -> Job:
    """``read()`` (reads through ``connection``) as a job that ``dbnb.jobs()`` does not
    list: an explorer's page or count, which its grid cancels when the user clicks on."""
    job = Job(0, connection, sql, listed=False)
    job.start(read)
    return job


def jobs() -> pd.DataFrame:
    """The background jobs of this process (``db.submit``, ``%%db --bg``): those running
    and the last ones that ended, by id, with ``COLUMNS``."""
    frame = pd.DataFrame(_LISTED.statuses(), columns=COLUMNS)
    frame["error"] = frame["error"].astype(object).where(frame["error"].notna(), None)
    return frame


def running(job_id: int) -> Job | None:
    """The job ``job_id`` if it is still running."""
    return _LISTED.running(job_id)


def status(job_id: int) -> dict[str, Any] | None:
    """What ``dbnb.jobs()`` shows of job ``job_id``; None if it is not listed."""
    return next((row for row in _LISTED.statuses() if row["id"] == job_id), None)
