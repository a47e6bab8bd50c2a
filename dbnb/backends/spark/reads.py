"""Spark reads: only what Spark parses as a query runs, values bound by Spark, Arrow out.

**The read-only guard.** Spark has no read-only transaction, and Spark Connect runs a
command (``CREATE``, ``INSERT``, ``DROP``, ``SET``, ``CACHE``, ``ADD JAR``, ...) as
soon as its SQL is analysed. So a read is decided before it is sent, in three steps:

1. dbnb's allow-list (``statements.READ_RULES``): one statement, starting with a
   query's keyword or with SHOW, DESCRIBE/DESC or EXPLAIN; anything else is refused
   and nothing is sent.
2. A query is sent as ``SELECT * FROM (<statement>)``, which Spark's own parser
   accepts only when the statement is a query (its grammar allows nothing else in a
   subquery), and Spark analyses that plan (the AnalyzePlan call: nothing runs)
   before it runs it. A statement that is not a query fails that parse, so it never
   runs; then ``EXPLAIN`` tells a command, refused naming what Spark parsed it as,
   from a syntax error (Spark's message).
3. A command is first sent as ``EXPLAIN EXTENDED <statement>``, which Spark parses
   and analyses without running it (Spark's ExplainCommand never executes its
   statement); it runs only when the roots of both plans are read-only commands
   (``statements.READ_COMMANDS``), and its rows come back as a query's.

**Values** are Spark's own named parameters (``:name``, ``args=``), never spliced.
**max_rows** is a ``LIMIT max_rows + 1`` in the plan, so the job stops there.
**Ctrl-C and statement_timeout**: each run carries a tag of its own, and runs on a
worker thread; Ctrl-C or the deadline interrupts the tag on the server (Spark
Connect's ``interruptTag``), waits for the run to end, and the session is at once
ready for the next statement.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from dbnb.backends.spark import statements
from dbnb.config import ConnectionConfig
from dbnb.engine import interrupts, limits, remedies, stopping
from dbnb.errors import DbnbError, QueryError, ReadOnlyError
from dbnb.sql.prepared import Prepared

# The user's statement on lines of its own: a trailing `-- comment` cannot eat the `)`.
_WRAPPED = "SELECT * FROM (\n{sql}\n)"
_PARSED_ROOT = re.compile(r"== Parsed Logical Plan ==\s*'?(\w+)")
_STOP_WAIT = 10.0  # seconds an interrupted run may take to end on the server
_RETRY_INTERRUPT = 0.2  # seconds: the run may not have reached the server yet
# Seconds an interrupt waits for a started run to report its first Spark job (Spark
# Connect reports progress every 2 s by default, spark.connect.progress.reportInterval).
_JOB_WAIT = 3.0


class Interrupted(Exception):
    """Spark ended a run dbnb interrupted (the caller raises its own error)."""


def spark_errors() -> tuple[type[BaseException], ...]:
    """What the Spark Connect client raises for a statement's failure."""
    from pyspark.errors import PySparkException

    return (PySparkException,)


def message(error: BaseException) -> str:
    """Spark's message, on one line, without its SQLSTATE, plan and stack trace (and
    without positions: they count in the wrapped statement, not in the user's)."""
    text = str(error).strip().split("SQLSTATE:", 1)[0].split("\n\n", 1)[0]
    text = re.sub(r"\s*\(line \d+, pos \d+\)", "", text)
    return " ".join(text.split()).rstrip(" ;")


def refusal(name: str, reason: str) -> ReadOnlyError:
    """A read refused as a write: what Spark made of it, and how to write on purpose."""
    if remedies.current() == "python":
        how = "to write on purpose, use db.write(...) or a %%db NAME --write cell"
    else:
        how = remedies.how_to_write()
    return ReadOnlyError(f"connection {name!r} is read-only here: {reason}; {how}")


def statement(sql: str) -> str:
    """The statement, without the semicolon that may end it."""
    return re.sub(r";\s*$", "", sql.rstrip())


def prepared(
    spark: Any,
    read: Prepared,
    name: str,
    config: ConnectionConfig,
    limit: int | None = None,
) -> tuple[Any, pa.Schema]:
    """The protobuf plan of the guarded read of ``read`` (its text parsed once, by
    ``dbnb.sql.prepared``), cut at ``limit`` rows when given, and its Arrow schema,
    decided before anything runs (the module's three steps): ``ReadOnlyError`` for a
    statement that does not read, ``QueryError`` for any other failure (Spark's message)."""
    assert read.statement is not None  # Spark takes SQL text only
    sql, values = read.statement.sql, read.values
    refused = read.refusal()
    if refused is not None and refused.syntax:
        raise _not_a_query(spark, sql, values, name)
    if refused is not None:
        raise refusal(name, refused.reason)
    sql, values = statements.expand(read.statement, values)
    sql = statement(sql)
    if statements.is_command(sql):
        return _command(spark, sql, values, name, config, limit)
    return _query(spark, sql, values, name, limit)


def _query(
    spark: Any, sql: str, values: Mapping[str, Any], name: str, limit: int | None
) -> tuple[Any, pa.Schema]:
    from pyspark.errors import ParseException
    from pyspark.sql.connect import functions, plan

    named = {key: functions.lit(value) for key, value in values.items()}
    node: Any = plan.SQL(_WRAPPED.format(sql=sql), named_args=named or None)
    if limit is not None:
        node = plan.Limit(node, limit)
    proto = node.to_proto(spark.client)
    try:
        struct = spark.client.schema(proto)
    except ParseException:
        raise _not_a_query(spark, sql, values, name) from None
    except spark_errors() as error:
        raise QueryError(f"{name}: {message(error)}") from None
    return proto, _arrow_schema(struct)


def _command(
    spark: Any,
    sql: str,
    values: Mapping[str, Any],
    name: str,
    config: ConnectionConfig,
    limit: int | None,
) -> tuple[Any, pa.Schema]:
    """A read-only command, checked by Spark's plan of it, then run (Spark runs a command
    as it is sent); its rows as a plan to read."""
    try:
        rows = spark.sql(f"EXPLAIN EXTENDED {sql}", args=dict(values)).collect()
    except spark_errors() as error:
        raise QueryError(f"{name}: {message(error)}") from None
    roots = statements.plan_roots(str(rows[0][0]) if rows else "")
    if not roots or any(root not in statements.READ_COMMANDS for root in roots):
        what = next((r for r in roots if r not in statements.READ_COMMANDS), "something else")
        raise refusal(name, f"Spark plans this statement as {what}, not a read")
    try:
        frame = run_tagged(spark, lambda: spark.sql(sql, args=dict(values)), config, None)
        if limit is not None:
            frame = frame.limit(limit)
        proto = frame._plan.to_proto(spark.client)  # noqa: SLF001 (the client's own plan)
        return proto, _arrow_schema(spark.client.schema(proto))
    except spark_errors() as error:
        raise QueryError(f"{name}: {message(error)}") from None


def _arrow_schema(struct: Any) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(struct, timezone="UTC")


def _not_a_query(spark: Any, sql: str, values: Mapping[str, Any], name: str) -> DbnbError:
    """Why the statement did not parse as a query: a command, or a syntax error.
    ``EXPLAIN`` parses and plans its statement without ever running it."""
    try:
        rows = spark.sql(f"EXPLAIN EXTENDED {statement(sql)}", args=dict(values)).collect()
    except spark_errors() as error:
        return QueryError(f"{name}: {message(error)}")
    found = _PARSED_ROOT.search(str(rows[0][0]) if rows else "")
    what = found.group(1) if found else "something else"
    return refusal(name, f"Spark parses this statement as {what}, not a query; reads run queries")


# Runs wait on worker threads, so that the caller's thread stays free for Ctrl-C.
_WORKERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dbnb-spark")


def run_tagged(
    spark: Any, work: Callable[[], Any], config: ConnectionConfig, timeout: float | None
) -> Any:
    """``work()`` on a worker thread, tagged; Ctrl-C or ``timeout`` interrupts it on the server."""
    interrupts.wake_on_ctrl_c()
    tag = f"dbnb-{uuid.uuid4().hex}"

    def tagged() -> Any:
        with _tagged(spark, tag):
            return work()

    submitted: list[Future[Any]] = []

    def stop() -> None:  # a background job's cancel, as Ctrl-C (dbnb.engine.stopping)
        if submitted:
            _interrupt(spark, tag, submitted[0].done)

    with stopping.stoppable(stop):
        submitted.append(_WORKERS.submit(tagged))
        return _tagged_result(spark, tag, submitted[0], config, timeout)


def _tagged_result(
    spark: Any, tag: str, future: Future[Any], config: ConnectionConfig, timeout: float | None
) -> Any:
    try:
        return future.result(timeout=timeout or None)
    except TimeoutError:
        _interrupt(spark, tag, future.done)
        raise limits.timeout_error(config, timeout) from None
    except KeyboardInterrupt:
        _interrupt(spark, tag, future.done)
        raise


# Which tagged runs have reported a Spark job; the run's thread knows its tag.
_RUNNING = threading.local()
_JOBS_SEEN: set[str] = set()
_WATCHED: set[int] = set()
_WATCH_LOCK = threading.Lock()


def _progress(stages: Any, inflight_tasks: int, operation_id: str, done: bool, **_: Any) -> None:
    """Spark Connect's progress handler: note that the current thread's run has a job."""
    tag = getattr(_RUNNING, "tag", None)
    if tag is not None and stages:
        _JOBS_SEEN.add(tag)


def _watch(spark: Any) -> None:
    """Have ``spark``'s progress reports tell which runs have started a job (once)."""
    with _WATCH_LOCK:
        if id(spark) not in _WATCHED:
            spark.registerProgressHandler(_progress)
            _WATCHED.add(id(spark))


def _tagged(spark: Any, tag: str) -> contextlib.AbstractContextManager[None]:
    """``tag`` on this thread's runs (the client's tags are per thread: this run's only)."""

    @contextlib.contextmanager
    def tagged() -> Iterator[None]:
        _watch(spark)
        spark.addTag(tag)
        _RUNNING.tag = tag
        try:
            yield
        finally:
            _RUNNING.tag = None
            _JOBS_SEEN.discard(tag)
            spark.removeTag(tag)

    return tagged()


def _interrupt(spark: Any, tag: str, done: Callable[[], bool]) -> None:
    """Interrupt the runs tagged ``tag`` until they have ended (at most ``_STOP_WAIT``).

    A run interrupted while Spark plans it can leave a job behind: adaptive execution
    submits a query's first stage from another thread, so a job can start after the
    operation was cancelled (its cancel found no job) and run on, outside any operation
    an interrupt can reach. So a run that has reported no job yet is first given up to
    ``_JOB_WAIT`` seconds to report one (or to end); interrupted then, the job it
    started is cancelled with it.
    """
    deadline = time.monotonic() + _JOB_WAIT
    while tag not in _JOBS_SEEN and not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    _JOBS_SEEN.discard(tag)

    def interrupt() -> None:
        with contextlib.suppress(Exception):
            spark.interruptTag(tag)

    interrupts.repeat_until(interrupt, done, every=_RETRY_INTERRUPT, at_most=_STOP_WAIT)


def stream(
    spark: Any, proto: Any, config: ConnectionConfig, timeout: float | None
) -> Iterator[pa.Table]:
    """The tables of the run of ``proto`` as Spark sends them, read on a worker thread at
    most two ahead; Ctrl-C, ``timeout`` (for the whole stream) or closing the iterator
    interrupts the run on the server."""
    interrupts.wake_on_ctrl_c()
    tag = f"dbnb-{uuid.uuid4().hex}"
    tables: queue.Queue[Any] = queue.Queue(maxsize=2)
    stopped = threading.Event()
    ended = threading.Event()
    end = object()

    def put(item: Any) -> None:
        while not stopped.is_set():
            with contextlib.suppress(queue.Full):
                tables.put(item, timeout=0.1)
                return

    def produce() -> None:
        try:
            with _tagged(spark, tag):
                for item in spark.client.to_table_as_iterator(proto, {}):
                    if isinstance(item, pa.Table):
                        put(item)
            put(end)
        except BaseException as error:
            put(error)
        finally:
            ended.set()

    deadline = None if not timeout else time.monotonic() + timeout
    _WORKERS.submit(produce)
    try:
        while True:
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                item = tables.get(timeout=wait)
            except queue.Empty:
                raise limits.timeout_error(config, timeout) from None
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()
        if not ended.is_set():
            _interrupt(spark, tag, ended.is_set)
