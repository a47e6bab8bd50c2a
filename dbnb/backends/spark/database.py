"""``SparkDatabase``: the facade of a Spark connection (``dbnb.connections.facade.Facade``)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dbnb.backends.spark import reads, statements, types
from dbnb.backends.spark.dialect import SparkDialect
from dbnb.backends.spark.lexical import LEXICAL_RULES
from dbnb.backends.spark.session import Session, client_module
from dbnb.config import ConnectionConfig
from dbnb.connections.facade import Catalog, CellRun, Facade, Target
from dbnb.connections.health import CONNECT_TIMEOUT, Health
from dbnb.engine import monitor, remedies
from dbnb.errors import DbnbError, QueryError, one_line
from dbnb.read import failures, formats, frames, parquet
from dbnb.read.request import ReadRequest
from dbnb.sql.prepared import Prepared, SqlRules, prepare

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from dbnb.write import Mode

Params = Mapping[str, Any]


class SparkDatabase(Facade):
    """A named Spark connection, through Spark Connect: reads, writes, health.

    One Spark Connect session per name, opened on first use and shared by every
    caller of the name (Spark Connect runs a session's operations concurrently).
    """

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        self.session_ = Session(config)

    @property
    def spark(self) -> Any:
        """The ``pyspark.sql.connect`` ``SparkSession`` behind the name, opened on first use."""
        return self.session_.get()

    def close(self) -> None:
        self.session_.close()

    @property
    def sql_dialect(self) -> Dialect:
        """Spark SQL, for the statements dbnb builds itself (``db.explore``)."""
        return SparkDialect()

    @property
    def takes_select(self) -> bool:
        return False  # SQL text only: dbnb compiles a select() it builds with sql_dialect

    # --- reads ------------------------------------------------------------------------

    @functools.cached_property
    def sql_rules(self) -> SqlRules:
        """Spark SQL's lexical, bind and read rules (``statements.py``, ``lexical.py``)."""
        return SqlRules(LEXICAL_RULES, statements.BIND_RULES, statements.READ_RULES)

    def _bound(self, request: ReadRequest) -> Prepared:
        """The request's SQL text, parsed once, and its values, bound for Spark."""
        if isinstance(request.sql, Prepared):  # a cell's, prepared by the cell
            return request.sql
        return self._prepared(self._text(request.sql), request.params)

    def _prepared(self, sql: str, params: Params | None) -> Prepared:
        rules, name = self.sql_rules, self.name
        return prepare(sql, params, rules, name, how_to_bind=remedies.how_to_bind)

    def _read(self, request: ReadRequest) -> formats.Result:
        """Run one query on Spark; its rows as a DataFrame, or chunks of ``chunksize`` rows
        (``output``: or as polars or Arrow, straight from Spark's Arrow).

        Only what Spark parses as a query runs (``dbnb.backends.spark.reads``);
        ``:name`` placeholders are Spark's named parameters. ``progress`` is ignored:
        Spark sends the result in a few large Arrow batches.
        """
        prepared, output = self._bound(request), request.output
        in_force = self.config.statement_timeout if request.timeout is None else request.timeout
        if request.chunksize is not None:
            tables = self._tables(prepared, request.chunksize, in_force)
            return (_as(table, output) for table in tables)
        return _as(self._table(prepared, request.limit(self.config), in_force), output)

    def _to_parquet(self, request: ReadRequest, path: str | os.PathLike[str]) -> int:
        """One query's result to a Parquet file, one row group per ``chunksize`` rows,
        whole or not at all; the rows written."""
        assert request.chunksize is not None  # query_to_parquet's own default
        timeout = self.config.statement_timeout
        return parquet.write(self._tables(self._bound(request), request.chunksize, timeout), path)

    def _text(self, sql: Any) -> str:
        if not isinstance(sql, str):
            raise DbnbError(
                f"connection {self.name!r} (spark) takes SQL text; a SQLAlchemy select() "
                "needs a SQLAlchemy dialect, which Spark has not"
            )
        return sql

    def _table(
        self,
        prepared: Prepared,
        limit: int | None,
        timeout: float | None,
        *,
        recorded: bool = True,
    ) -> pa.Table:
        """The whole result, cut at ``limit`` rows by Spark (RowLimitError past it);
        in the history unless it is housekeeping (``recorded=False``: health)."""
        sql, values = prepared.sql or "", prepared.values
        recording = monitor.Recording(self.config, sql, values) if recorded else None
        try:
            spark = self.spark
            proto, schema = reads.prepared(
                spark, prepared, self.name, self.config, None if limit is None else limit + 1
            )
            try:
                table = reads.run_tagged(
                    spark, lambda: spark.client.to_table(proto, {})[0], self.config, timeout
                )
            except reads.spark_errors() as error:
                raise QueryError(f"{self.name}: {reads.message(error)}") from None
            if table.num_columns != len(schema):
                table = schema.empty_table()  # an empty result, as Spark sent it
            if limit is not None and table.num_rows > limit:
                raise failures.translate(frames.TooManyRows(limit), self.name, limit=limit)
            table = types.normalise(table)
        except BaseException as error:
            if recording is not None:
                recording.finish(error)
            raise
        if recording is not None:
            recording.finish(table.num_rows)
        return table

    def _tables(self, prepared: Prepared, rows: int, timeout: float | None) -> Iterator[pa.Table]:
        """The result in tables of ``rows`` rows (the last may be shorter), read as they
        are consumed; one empty table with the columns for an empty result."""
        recording = monitor.Recording(self.config, prepared.sql or "", prepared.values)
        count = 0
        try:
            spark = self.spark
            proto, schema = reads.prepared(spark, prepared, self.name, self.config)
            sent = self._translated(reads.stream(spark, proto, self.config, timeout))
            for table in _rebatched(sent, rows, schema):
                count += table.num_rows
                yield types.normalise(table)
        except GeneratorExit:
            recording.finish(count)  # the caller stopped early; the rest was interrupted
            raise
        except BaseException as error:
            recording.finish(error)
            raise
        recording.finish(count)

    def _translated(self, tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        """``tables``, with Spark's failures as dbnb's ``QueryError``."""
        try:
            yield from tables
        except reads.spark_errors() as error:
            raise QueryError(f"{self.name}: {reads.message(error)}") from None

    # --- writes and cells ---------------------------------------------------------------

    def write(
        self,
        data: Any,
        target: Target,
        mode: Mode = "append",
        *,
        key: str | Sequence[str] | None = None,
        create: bool = False,
        progress: bool | None = None,
    ) -> int:
        """Validate ``data`` against the table, then write it with Spark's DataFrame
        writer: ``append``, or ``replace`` (the table's rows become exactly these).
        ``create=True`` creates a missing table from the data's columns."""
        from dbnb.backends.spark import writes

        return writes.write(self, data, target, mode, key=key, create=create)

    def run_cell(
        self, statements: Sequence[str], values: Sequence[Params], *, write: bool
    ) -> CellRun:
        """A cell's statements in order: each read is a query (guarded as ``query``);
        with ``write``, each runs as Spark runs SQL (commands included). Spark has no
        transactions: statements before a failing one stay done."""
        from dbnb.backends.spark import writes

        if not write:
            frame = None
            for sql, params in zip(statements, values, strict=True):
                read = self._prepared(sql, params)
                frame = types.to_frame(
                    self._table(read, self.config.max_rows, self.config.statement_timeout)
                )
            return CellRun(frame=frame, source=len(statements) - 1, changed=0)
        return writes.run_commands(self, statements, values)

    # --- health and catalog ---------------------------------------------------------------

    def load_client(self) -> None:
        """Import the Spark Connect client (``Facade.load_client``): pyspark's modules
        import each other, so two threads importing it at once can fail."""
        with suppress(DbnbError):  # not installed: health reports it
            client_module()
            reads.spark_errors()

    def health(self, timeout: int = CONNECT_TIMEOUT) -> Health:
        """Reachable, Spark's version, the latency of a ``SELECT 1``, and the read-only
        guard proved by a ``CREATE TABLE`` it must refuse. Never raises."""
        unreachable: tuple[type[BaseException], ...] = (DbnbError, *reads.spark_errors())
        try:
            spark = self.spark
            started = time.perf_counter()
            one = self._prepared("SELECT 1", None)
            self._table(one, None, float(max(timeout, 1)), recorded=False)
            latency = (time.perf_counter() - started) * 1000.0
            version = f"Spark {spark.version}"
        except unreachable as error:
            return Health(self.name, reachable=False, error=self.session_.mask(one_line(error)))
        try:
            probe = self._prepared("CREATE TABLE dbnb_health_probe (id INT)", None)
            self._table(probe, None, None, recorded=False)
        except DbnbError as error:
            enforced = "read-only here" in str(error)
            problem = None if enforced else self.session_.mask(one_line(error))
        else:
            enforced, problem = False, "read-only is not enforced: a CREATE TABLE was accepted"
        return Health(
            self.name,
            reachable=True,
            server_version=version,
            latency_ms=latency,
            readonly_enforced=enforced,
            error=problem,
        )

    def catalog(self) -> Catalog:
        from dbnb.backends.spark.catalog import SparkCatalog

        return SparkCatalog(self)


def _as(table: pa.Table, output: formats.Output) -> formats.Frame:
    """A normalised result in the ``output`` format (pandas: the documented dtypes)."""
    return types.to_frame(table) if output == "pandas" else formats.from_arrow(table, output)


def _rebatched(tables: Iterator[pa.Table], rows: int, schema: pa.Schema) -> Iterator[pa.Table]:
    """``tables`` as tables of exactly ``rows`` rows (the last may be shorter)."""
    pending: list[pa.Table] = []
    held = 0
    given = False
    for table in tables:
        pending.append(table)
        held += table.num_rows
        while held >= rows:
            whole = pa.concat_tables(pending)
            yield whole.slice(0, rows)
            given = True
            rest = whole.slice(rows)
            pending, held = [rest], rest.num_rows
    if held or not given:
        yield pa.concat_tables(pending) if pending else schema.empty_table()
