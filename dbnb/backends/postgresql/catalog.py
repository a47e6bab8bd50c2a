"""What a result's column types need from the server's catalog, asked once per
connection, for both read paths.

A result names each column's type by OID. The built-in types are known to both
drivers; a type created in the database (an enum, a composite, their arrays, a
range) is not: psycopg reads any such value as its text (an array of enums as
``'{a,b}'``), and ADBC's driver knows only the types that existed when its
connection opened. ``pg_type`` tells what each is (and ``pg_range`` a range's
subtype). ``money``'s digits after the point are the server's ``lc_monetary``'s, and
the text of a date its ``DateStyle``'s and ``TimeZone``'s, which only the server
knows.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dbnb.backends.postgresql.texts import Session

# OIDs from here up are the database's own, not the server's built-in ones.
FIRST_USER_OID = 16384

_LOOKUP = (
    "SELECT t.oid::int8, t.typtype::text,"
    " CASE WHEN t.typcategory = 'A' THEN t.typelem::int8 ELSE 0 END,"
    " coalesce(e.typtype::text, ''),"
    " coalesce(s.typname::text, '')"
    " FROM pg_catalog.pg_type t"
    " LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'"
    # A range's subtype (or its array's element's), if built in: named as the driver
    # names the built-in types.
    " LEFT JOIN pg_catalog.pg_range r"
    " ON r.rngtypid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END"
    " LEFT JOIN pg_catalog.pg_type s"
    " ON s.oid = r.rngsubtype AND s.typnamespace = 'pg_catalog'::pg_catalog.regnamespace"
    " WHERE t.oid IN ({})"
)
_MONEY_SCALE = "SELECT pg_catalog.scale('1'::pg_catalog.money::pg_catalog.numeric)::int4"
_SESSION = "SELECT pg_catalog.current_setting('DateStyle'), pg_catalog.current_setting('TimeZone')"

# Runs one statement of the catalog's on the reading connection: its rows.
Run = Callable[[str], Sequence[Sequence[Any]]]


@dataclass(frozen=True)
class PgType:
    """One type of ``pg_type``: its ``typtype`` (``e`` enum, ``c`` composite, ``r``
    range, ``m`` multirange, ``b`` base, ...) and, for an array, its element's."""

    kind: str
    element: int = 0  # the element type's OID, for an array
    element_kind: str = ""
    subtype: str = ""  # a range's subtype (or its array's element's), if built in

    @property
    def is_array(self) -> bool:
        return self.element != 0


class Catalog:
    """The types and the money scale one database's connections have asked about, and
    the settings its sessions write values' text by (``texts.Session``)."""

    def __init__(self) -> None:
        self.types: dict[int, PgType] = {}
        self.money_scale: int | None = None
        self.session: Session | None = None
        self._lock = threading.Lock()

    def learn(
        self, run: Run, oids: Iterable[int], money: bool = False, session: bool = False
    ) -> None:
        """Ask the server about the OIDs not known yet (and the money scale, and the
        session's settings, once each)."""
        with self._lock:
            missing = sorted({int(oid) for oid in oids} - set(self.types))
            need_scale = money and self.money_scale is None
            need_session = session and self.session is None
        found: dict[int, PgType] = {}
        if missing:
            for oid, kind, element, element_kind, subtype in run(
                _LOOKUP.format(", ".join(str(oid) for oid in missing))
            ):
                found[int(oid)] = PgType(str(kind), int(element), str(element_kind), str(subtype))
        scale = int(run(_MONEY_SCALE)[0][0]) if need_scale else None
        settings = None
        if need_session:
            datestyle, timezone = run(_SESSION)[0]
            settings = Session(str(datestyle), str(timezone))
        with self._lock:
            self.types.update(found)
            if scale is not None:
                self.money_scale = scale
            if settings is not None:
                self.session = settings


# The guarded path's catalogs, one per psycopg connection: OIDs are a database's own.
_GUARDED: weakref.WeakKeyDictionary[Any, Catalog] = weakref.WeakKeyDictionary()
_GUARDED_LOCK = threading.Lock()


def of_connection(connection: Any) -> Catalog:
    with _GUARDED_LOCK:
        catalog = _GUARDED.get(connection)
        if catalog is None:
            catalog = _GUARDED[connection] = Catalog()
        return catalog
