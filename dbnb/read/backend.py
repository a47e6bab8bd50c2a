"""What the read layer asks of a database's backend: ``ReadBackend``.

Beyond the engine's (``dbnb.engine.backend``): the columnar reads it offers, and
the column types of a guarded result (``frames.Kinds``). The connection's
backend (``dbnb.backends.base.Backend``) is resolved once and handed to the
readers; this protocol names nothing above the read layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from dbnb.engine.backend import EngineBackend
from dbnb.read.frames import Kinds

if TYPE_CHECKING:
    from dbnb.config import ConnectionConfig
    from dbnb.read.columnar import Columnar


class ReadBackend(EngineBackend, Kinds, Protocol):
    """What the read layer asks of a database's backend."""

    def columnar(self, config: ConnectionConfig) -> Columnar | None:
        """The columnar (ADBC) reads of ``config``, or None: the guarded path only."""
