"""Apache Spark, reached through Spark Connect: dbnb's one database without SQLAlchemy.

Its home opens a ``SparkDatabase`` (``dbnb.connections.facade.Facade``) per named connection
(``url: sc://HOST:PORT`` or ``type: spark``); the registry asks for it through
``dbnb.engine.backend.facade_for``. The Spark Connect client (``pip install
'dbnb[spark]'``) loads with the first statement, not with this module.

- ``session``: the Spark Connect session of a connection, and its URL.
- ``reads``: the read-only guard, bound parameters, max_rows, chunks; interrupts.
- ``types``: Spark's Arrow results in dbnb's documented dtypes.
- ``writes``: ``db.write`` through Spark's DataFrame writer, and ``%%db --write``.
- ``catalog``: ``%db tables`` and ``describe`` from Spark's catalog.
- ``database``: the facade itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbnb.config import ConnectionConfig
    from dbnb.connections.facade import Facade


def open(config: ConnectionConfig) -> Facade:
    """The facade of a Spark connection; it connects on first use."""
    from dbnb.backends.spark.database import SparkDatabase

    return SparkDatabase(config)
