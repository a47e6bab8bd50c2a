"""Apache Spark, reached through Spark Connect: dbnb's one database without SQLAlchemy.

Its backend, ``Spark``, opens a ``SparkDatabase`` (``dbnb.connections.facade.Facade``)
per named connection (``url: sc://HOST:PORT`` or ``type: spark``): the registry of
connections asks every backend to ``open`` one, and only this one does. The Spark
Connect client (``pip install 'dbnb[spark]'``) loads with the first statement, not
with this module.

- ``session``: the Spark Connect session of a connection, and its URL.
- ``reads``: the read-only guard, bound parameters, max_rows, chunks; interrupts.
- ``types``: Spark's Arrow results in dbnb's documented dtypes.
- ``writes``: ``db.write`` through Spark's DataFrame writer, and ``%%db --write``.
- ``catalog``: ``%db tables`` and ``describe`` from Spark's catalog.
- ``database``: the facade itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbnb.backends.base import Backend
from dbnb.backends.spark.typetable import TABLE

if TYPE_CHECKING:
    from dbnb.config import ConnectionConfig
    from dbnb.connections.facade import Facade


class Spark(Backend):
    """Apache Spark through Spark Connect: a facade of its own, no SQLAlchemy engine (so
    nothing else of ``Backend`` is asked of it)."""

    name = "spark"
    type_table = TABLE  # its types as it spells them (typetable.py)

    def open(self, config: ConnectionConfig) -> Facade:
        """The facade of a Spark connection; it connects on first use."""
        from dbnb.backends.spark.database import SparkDatabase

        return SparkDatabase(config)
