"""What seeing the data asks: of a database's backend, the SQL it spells its own way
(``SeeBackend``); of the connection, its reads and that backend (``Viewed``).

The connection's backend (``dbnb.backends.base.Backend``, whose defaults are
standard SQL) is resolved once, with the connection; these protocols name nothing
above this layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

    from dbnb.typetable import TypeTable


class SeeBackend(Protocol):
    """The SQL of plots, profiles and plans, as one database spells it."""

    # Its types as it spells them, by which a profile summarizes each column; None:
    # SQLAlchemy's types' rules alone.
    @property
    def type_table(self) -> TypeTable | None: ...

    def explain_statement(self, sql: str, analyze: bool) -> str | None:
        """The statement showing ``sql``'s plan; None: ``analyze`` runs ``sql`` itself."""

    def plan_text(self, rows: Sequence[Sequence[Any]]) -> str:
        """The plan's rows as text, one line per step."""

    def plan_summary(self, plan: str) -> str:
        """One line: the plan's estimated cost and rows (and actual ones, analyzed)."""

    def histogram_bin(self, value: str, low: str, high: str, bins: int) -> str:
        """SQL: the 0-based bin of ``value`` among ``bins`` from ``low`` to ``high``."""

    def quartiles(self, value: str, source: str) -> str:
        """SQL: one row ``n, low, q1, median, q3, high`` of ``value`` over ``source``."""

    def comparable(self, value: str, kind: str) -> str:
        """SQL: ``value`` ordered as Python orders the values read."""

    def most_frequent(self, value: str, ordered: str, source: str) -> str:
        """SQL: the most frequent non-NULL ``value`` of ``source``; of equals, the first
        in ``ordered``'s order."""

    def long_text(self, type_name: str) -> bool:
        """Whether the profile should cut a column of this type to its longest value's
        width before it counts and groups it (``within_width``)."""

    def within_width(self, value: str, width: int) -> str:
        """SQL: the text ``value`` as a string of at most ``width`` characters."""

    def grouped_counts(self, keys: Sequence[str], source: str) -> str | None:
        """SQL: the distinct values and the most frequent of each of ``keys`` over
        ``source`` from one scan; None: a subquery each."""

    def epoch_seconds(self, value: str) -> str:
        """SQL: a date or timestamp as seconds since 1970 (for bins over time)."""

    def mean(self, value: str) -> str:
        """SQL: the mean of the numbers ``value``, as exact as pandas' float mean."""


class Viewed(Protocol):
    """What plots, profiles and plans ask of the connection they read (``Database``)."""

    @property
    def name(self) -> str: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def backend(self) -> SeeBackend: ...

    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, progress: bool | None = None
    ) -> pd.DataFrame: ...

    def connection(
        self, *, write: bool = False, timeout: float | None = None
    ) -> AbstractContextManager[Connection]: ...
