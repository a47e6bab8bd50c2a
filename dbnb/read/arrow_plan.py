"""A read on the columnar path, and what its reader knows of statements described before.

``Plan``: one statement with positional binds and the Arrow batch of their values.
``Layouts``: the result columns' rules of the statements a reader described, by text
and bind types, so a statement known to need the guarded path takes it at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dbnb.sql.params import Positional

# Each result column's rule, the backend's own ([] where a read makes its own
# frame); None: the guarded path.
Layout = list[Any] | None


@dataclass(frozen=True)
class Plan:
    statement: Positional
    bind: pa.RecordBatch | None

    def key(self) -> Key:
        """What a description depends on: the text and the types of its binds."""
        types = () if self.bind is None else tuple(str(kind) for kind in self.bind.schema.types)
        return self.statement.sql, types

    def values(self) -> dict[str, Any]:
        """The bound values by their ``:name`` (to mask them out of a message)."""
        if self.bind is None:
            return {}
        columns = self.bind.columns
        return {name: columns[i][0].as_py() for i, name in enumerate(self.statement.names)}


Key = tuple[str, tuple[str, ...]]
Described = tuple[Layout, pa.Schema | None]


class Layouts:
    """The statements a reader described, newest kept (a few hundred)."""

    _KEEP = 256

    def __init__(self) -> None:
        self._known: OrderedDict[Key, Described] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Described | None:
        with self._lock:
            found = self._known.get(key)
            if found is not None:
                self._known.move_to_end(key)
            return found

    def put(self, key: Key, described: Described) -> None:
        with self._lock:
            self._known[key] = described
            self._known.move_to_end(key)
            while len(self._known) > self._KEEP:
                self._known.popitem(last=False)
