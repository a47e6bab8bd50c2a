"""One named connection's reads: the columnar path where that was chosen before the
statement ran (``arrow.ArrowReader``), else the guarded SQLAlchemy path; whole
results, chunks, Arrow tables and the other result formats. Every read is
recorded in the history, its error too, and runs once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import Connection, CursorResult, Row

from dbnb.config import ConnectionConfig
from dbnb.engine import connecting, limits, monitor
from dbnb.read import arrow, failures, formats, frames, guarded, parquet
from dbnb.read import progress as progress_
from dbnb.read.backend import ReadBackend
from dbnb.read.request import ReadRequest
from dbnb.sql.prepared import Prepared

# A pooled connection in a read-only transaction (``Database.connection``).
Connect = Callable[..., AbstractContextManager[Connection]]


class Reads:
    """The reads of one named connection, on its database's ``backend``."""

    def __init__(
        self,
        config: ConnectionConfig,
        columnar: arrow.ArrowReader,
        connect: Connect,
        backend: ReadBackend,
    ) -> None:
        self.config = config
        self.arrow = columnar
        self.connect = connect
        self.backend = backend

    def read(self, prepared: Prepared, request: ReadRequest) -> formats.Result:
        """``request`` (its options checked), of its statement ``prepared``: a frame,
        chunks, or another ``output``."""
        limit = request.limit(self.config)
        if request.output != "pandas":
            return self.output(request.output, prepared, request, limit)
        if request.chunksize is not None:
            return self.chunks(prepared, request.chunksize, request.timeout)
        return self.frame(prepared, timeout=request.timeout, limit=limit, progress=request.progress)

    def frame(
        self,
        prepared: Prepared,
        *,
        timeout: float | None,
        limit: int | None,
        progress: bool | None,
    ) -> pd.DataFrame:
        """The whole result of one statement: the columnar path's, when it was chosen
        before the statement ran, else the guarded path's (``guarded.read_frame``)."""
        if progress is not True and limit is None:
            columnar = self.columnar_frame(prepared, timeout)
            if columnar is not None:
                return columnar

        def fetch(result: CursorResult[Any], count: int | None) -> Sequence[Row[Any]]:
            return progress_.fetch_rows(result, progress, count=count, label=self.config.name)

        with self.connect(timeout=timeout) as connection:
            return guarded.read_frame(
                connection,
                prepared.executable(),
                prepared.values,
                self.backend,
                name=self.config.name,
                limit=limit,
                fetch=monitor.reported(fetch),
                close=self.close_result,
            )

    def output(
        self, output: formats.Output, prepared: Prepared, request: ReadRequest, limit: int | None
    ) -> formats.Result:
        """``query`` as polars or Arrow: the columnar path's Arrow tables as they are
        when it streams this statement (decided before it runs); else the frame."""
        timeout, progress, chunksize = request.timeout, request.progress, request.chunksize
        rows = _WHOLE if chunksize is None else chunksize
        stream = None
        if chunksize is not None or (progress is not True and limit is None):
            stream = self.columnar_stream(prepared, rows, timeout)
        if stream is not None and chunksize is not None:
            return formats.tables_as((chunk.table for chunk in stream), output)
        if stream is not None:
            return formats.from_arrow(pa.concat_tables([chunk.table for chunk in stream]), output)
        if chunksize is not None:
            return formats.frames_as(self.guarded_chunks(prepared, rows, timeout), output)
        frame = self.frame(prepared, timeout=timeout, limit=limit, progress=progress)
        return formats.from_frame(frame, output)

    def columnar_allowed(self, timeout: float | None, max_rows: int | None = None) -> bool:
        """Whether the columnar path may stream a read (chunks, Parquet): a stream under
        statement_timeout or max_rows takes the guarded path, which enforces them."""
        in_force = self.config.statement_timeout if timeout is None else timeout
        return max_rows is None and not in_force

    def columnar_frame(self, prepared: Prepared, timeout: float | None) -> pd.DataFrame | None:
        """The frame from the columnar path, recorded in the history as the guarded
        path's statements are (its error too); None to take the guarded path, which
        is decided before the statement runs."""
        plan = self.arrow.plan(prepared)
        if plan is None:
            return None
        in_force = self.config.statement_timeout if timeout is None else timeout
        recording = monitor.Recording(self.config, plan.statement.sql, prepared.values)
        try:
            with connecting.within(timeout):  # the call's own timeout bounds connecting
                frame = self.arrow.read_frame(plan, in_force or None)
        except BaseException as error:
            recording.finish(error)
            raise
        if frame is not None:
            recording.finish(len(frame))
        return frame

    def columnar_stream(
        self, prepared: Prepared, rows: int, timeout: float | None
    ) -> Iterator[arrow.Chunk] | None:
        """Tables of ``rows`` rows from the columnar path, recorded in the history when
        the stream ends; None to take the guarded path (decided before it runs).

        A backend whose columns' types can change from one row to the next (SQLite)
        does not stream: its chunks keep the guarded path's per-chunk rules."""
        if not self.arrow.streams or not self.columnar_allowed(timeout):
            return None
        plan = self.arrow.plan(prepared)
        if plan is None:
            return None
        recording = monitor.Recording(self.config, plan.statement.sql, prepared.values)
        try:
            with connecting.within(timeout):  # the first chunk's checkout connects
                stream = self.arrow.stream(plan, rows)
        except BaseException as error:
            recording.finish(error)
            raise
        return None if stream is None else recorded(stream, recording)

    def chunks(
        self, prepared: Prepared, rows: int, timeout: float | None = None
    ) -> Iterator[pd.DataFrame]:
        stream = self.columnar_stream(prepared, rows, timeout)
        if stream is None:
            yield from self.guarded_chunks(prepared, rows, timeout)
            return
        for chunk in stream:
            yield chunk.frame()

    def tables(self, prepared: Prepared, rows: int) -> Iterator[Any]:
        stream = self.columnar_stream(prepared, rows, None)
        if stream is None:
            for frame in self.guarded_chunks(prepared, rows):
                yield parquet.frame_to_arrow(frame)
            return
        for chunk in stream:
            yield chunk.table

    def close_result(self, result: CursorResult[Any]) -> None:
        limits.close_result(result, self.config, self.backend)

    def guarded_chunks(
        self, prepared: Prepared, rows: int, timeout: float | None = None
    ) -> Iterator[pd.DataFrame]:
        statement, values = prepared.executable(), prepared.values
        with self.connect(timeout=timeout) as connection:
            try:
                streaming = connection.execution_options(
                    stream_results=True,
                    max_row_buffer=rows,
                    **{frames.AS_FRAME: True, frames.IN_CHUNKS: True},
                )
                result = streaming.execute(statement, values)
                # A server-side cursor: if abandoned half-way, the rest is never sent.
                with _closing(result, self.close_result):
                    if not result.returns_rows:
                        yield pd.DataFrame()
                        return
                    names = list(result.keys())
                    types = frames.column_types(result, statement, len(names), self.backend)
                    empty = True
                    for part in result.partitions(rows):
                        empty = False
                        yield frames.build_frame(names, list(zip(*part, strict=True)), types)
                    if empty:
                        yield frames.build_frame(names, [()] * len(names), types)
            except failures.TRANSLATED as error:
                failure = failures.translate(error, self.config.name, values=values)
            else:
                return
            finally:
                connection.rollback()
        raise failure  # out here: no __context__ (see guarded.read_frame)


@contextmanager
def _closing(
    result: CursorResult[Any], close: Callable[[CursorResult[Any]], None]
) -> Iterator[None]:
    try:
        yield
    finally:
        close(result)


def recorded(stream: Generator[arrow.Chunk], recording: monitor.Recording) -> Iterator[arrow.Chunk]:
    """``stream``, recorded with the rows it gave when it ends, fails or is closed."""
    rows = 0
    try:
        with closing(stream):
            for chunk in stream:
                rows += chunk.table.num_rows
                yield chunk
    except GeneratorExit:
        recording.finish(rows)  # the caller stopped early; the rest was never sent
        raise
    except BaseException as error:
        recording.finish(error)
        raise
    recording.finish(rows)


_WHOLE = 1 << 62  # rows of a "chunk" that is the whole result
