"""What the columnar read path asks of one database: the ``Columnar`` interface.

``read/arrow.py`` owns what every database shares: the pool of ADBC connections
within the name's budget, the plan (positional binds in an Arrow batch), the
statements described before, and turning a failure into dbnb's error. What a
database does differently (how it connects read-only, describes a statement
without running it, runs it once, cancels it, and reads its types) is its
backend's ``Columnar`` (``dbnb/backends/NAME/adbc.py``), which a backend's
``columnar(config)`` gives for the connections it can serve this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from dbnb.read.arrow_plan import Layout, Plan
    from dbnb.sql.params import PositionalRules


class Unsupported(Exception):
    """The columnar path cannot give exactly the guarded path's result (decided before
    the statement runs: the guarded path then runs it, once)."""


class TimedOut(Exception):
    """The read ran past its statement_timeout and was cancelled."""


class OutOfRange(Exception):
    """A value pandas cannot hold, which the guarded path refuses too (its message)."""


class Failed(Exception):
    """The statement ran and failed with the database's message; it must not run again."""


class Lost(Exception):
    """The connection was gone before the statement ran (the checkout tries another)."""


# The rules for a result as it is read, given its schema: the described ones, or the
# run's own when its types changed since (see ``ArrowReader``).
Rules = Callable[["pa.Schema"], "Layout"]


class Columnar(Protocol):
    """One database's columnar reads, for one named connection."""

    binds: PositionalRules  # how ``:name`` binds become positional ones, typed for its driver
    describes: bool  # statements are described on the connection before they run
    streams: bool  # results may be read in chunks as they arrive
    errors: tuple[type[BaseException], ...]  # what its driver raises

    def connect(self) -> Any:
        """A new read-only ADBC connection (the pool keeps it)."""

    def describe(self, connection: Any, plan: Plan) -> tuple[Layout, pa.Schema | None]:
        """The rule for each result column, learnt without running the statement; a
        ``None`` layout sends it to the guarded path. ``Lost``: the connection is gone."""

    def layout(self, schema: pa.Schema) -> Layout:
        """The rule for each column of a result read here; ``Unsupported`` for a type
        this path cannot read as the guarded path would."""

    def read_frame(
        self, connection: Any, plan: Plan, timeout: float | None, rules: Rules
    ) -> pd.DataFrame:
        """Run ``plan`` once and return its frame; ``Unsupported`` only before it ran,
        ``Failed``/``TimedOut``/``KeyboardInterrupt`` or a driver error after."""

    def execute(self, cursor: Any, plan: Plan) -> pa.RecordBatchReader:
        """Run ``plan`` once on an ADBC cursor, for a stream (only where ``streams``):
        its batches as they arrive; ``cursor.adbc_cancel()`` stops the rest."""

    def normalise(self, table: pa.Table, layout: Layout) -> pa.Table:
        """A table as the driver gave it -> dbnb's Arrow types."""

    def to_frame(self, table: pa.Table, layout: Layout) -> pd.DataFrame:
        """A normalised table -> a DataFrame in the documented dtypes."""

    def final_error(self, error: BaseException, name: str) -> BaseException:
        """The error of a statement that ran (never run again), worded as on the
        guarded path: Ctrl-C, a read-only refusal, a lost connection, its message."""


class ReadWhole:
    """What a ``Columnar`` whose reads describe their own statement as they run, and
    are read whole, answers to the rest (SQLite's and MariaDB's): nothing described
    ahead, no streams."""

    describes = False
    streams = False

    def describe(self, connection: Any, plan: Plan) -> tuple[Layout, pa.Schema | None]:
        return [], None

    def layout(self, schema: pa.Schema) -> Layout:
        return []  # each read makes its own frame

    def execute(self, cursor: Any, plan: Plan) -> pa.RecordBatchReader:
        raise Unsupported("this database's results are read whole")

    def normalise(self, table: pa.Table, layout: Layout) -> pa.Table:
        return table

    def to_frame(self, table: pa.Table, layout: Layout) -> pd.DataFrame:
        raise Unsupported("this database's results are read whole")
