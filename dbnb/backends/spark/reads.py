"""Spark reads: only what Spark parses as a query runs, values bound by Spark, Arrow out.

**The read-only guard.** Spark has no read-only transaction, and Spark Connect runs a
command (``CREATE``, ``INSERT``, ``DROP``, ``SET``, ``CACHE``, ``ADD JAR``, ...) as
soon as its SQL is analysed. So a read never sends the user's text alone: it sends
``SELECT * FROM (<statement>)``, which Spark's own parser accepts only when the
statement is a query (its grammar allows nothing else in a subquery), and asks Spark
to analyse that plan (the AnalyzePlan call: parsed and resolved, nothing run) before
it runs it. A statement that is not a query fails that parse, so it never runs; then
``EXPLAIN`` (which never runs its statement either) tells a command, refused with a
``ReadOnlyError`` naming what Spark parsed it as, from a syntax error (Spark's
message). Several statements fail the same way (one per call).

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
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from dbnb.config import ConnectionConfig
from dbnb.engine import interrupts, limits, remedies
from dbnb.errors import DbnbError, QueryError, ReadOnlyError
from dbnb.sql import sqltext

# The user's statement on lines of its own: a trailing `-- comment` cannot eat the `)`.
_WRAPPED = "SELECT * FROM (\n{sql}\n)"
_PARSED_ROOT = re.compile(r"== Parsed Logical Plan ==\s*'?(\w+)")
_STOP_WAIT = 10.0  # seconds an interrupted run may take to end on the server
_RETRY_INTERRUPT = 0.2  # seconds: the run may not have reached the server yet


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


def plan(spark: Any, sql: str, values: Mapping[str, Any], limit: int | None = None) -> Any:
    """The protobuf plan of the guarded read of ``sql``: wrapped as a subquery, bound
    with Spark's named parameters, and cut at ``limit`` rows when given."""
    from pyspark.sql.connect import functions, plan

    named = {name: functions.lit(value) for name, value in values.items()}
    node: Any = plan.SQL(_WRAPPED.format(sql=statement(sql)), named_args=named or None)
    if limit is not None:
        node = plan.Limit(node, limit)
    return node.to_proto(spark.client)


def analyse(spark: Any, proto: Any, sql: str, values: Mapping[str, Any], name: str) -> pa.Schema:
    """Spark's analysis of the guarded read, before anything runs: its Arrow schema;
    ``ReadOnlyError`` for a statement that is not a query, ``QueryError`` for any other
    failure (Spark's message)."""
    from pyspark.errors import ParseException
    from pyspark.sql.pandas.types import to_arrow_schema

    if len(sqltext.split(sql, "spark")) > 1:
        raise refusal(name, "one statement per call (a read runs one query)")
    try:
        struct = spark.client.schema(proto)
    except ParseException:
        raise _not_a_query(spark, sql, values, name) from None
    except spark_errors() as error:
        raise QueryError(f"{name}: {message(error)}") from None
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
        spark.addTag(tag)  # the client's tags are per thread: this run's only
        try:
            return work()
        finally:
            spark.removeTag(tag)

    future = _WORKERS.submit(tagged)
    try:
        return future.result(timeout=timeout or None)
    except TimeoutError:
        _interrupt(spark, tag, future.done)
        raise limits.timeout_error(config, timeout) from None
    except KeyboardInterrupt:
        _interrupt(spark, tag, future.done)
        raise


def _interrupt(spark: Any, tag: str, done: Callable[[], bool]) -> None:
    """Interrupt the runs tagged ``tag`` until they have ended (at most ``_STOP_WAIT``)."""

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
        spark.addTag(tag)
        try:
            for item in spark.client.to_table_as_iterator(proto, {}):
                if isinstance(item, pa.Table):
                    put(item)
            put(end)
        except BaseException as error:
            put(error)
        finally:
            spark.removeTag(tag)
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
