"""PostgreSQL's type rules on the guarded path: a result's columns as psycopg
describes them (type OIDs, numeric precision and scale), which are exact: the
database keeps int2/int4/int8 apart where a ``select()``'s types might not.

They give the columnar path's values and dtypes (``columns.py``) for the same
statement: ``inet``/``cidr`` and the built-in ranges and multiranges as the server's
text (psycopg would make ``ipaddress`` and ``Range`` objects: a read that becomes a
frame loads them as text, ``install_loaders``), a type
the database defines as text (an enum's label; psycopg reads any type it does not
know as its text), an array of one as a list of them, ``money`` as decimals, an
unconstrained numeric fitted to ``decimal128(38, s)``, and a multi-dimensional array
as the flat list of its items (as ADBC's driver reads it).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine

from dbnb.backends.postgresql import catalog as catalogs
from dbnb.backends.postgresql.typetable import MONEY_DIGITS, PG_TYPES, PG_USER_TYPE, RANGES
from dbnb.read.dtypes import OBJECT
from dbnb.read.dtypes import decimal as decimal_type
from dbnb.read.frames import AS_FRAME, FITTED_DECIMALS, Kind

# psycopg reads these as Python objects; a frame takes the server's text of them (a
# range of the database's own is text already: psycopg does not know it).
_AS_TEXT = ("inet", "cidr", *RANGES)
_TEXT = pq.Format.TEXT  # the format of the guarded path's results
# Arrays whose items are lists themselves (JSON), which flattening would merge.
_NOT_FLATTENED = {"json", "jsonb"}


def install_loaders(engine: Engine) -> None:
    """Reads that become frames load ``_AS_TEXT`` as the server's text: the cursor's
    own loaders (psycopg's ``cursor.adapters``), so sessions keep psycopg's objects."""

    def before(_connection: Any, cursor: Any, *args: Any) -> None:
        context = args[-2]
        if context is not None and context.execution_options.get(AS_FRAME):
            from psycopg.types.string import TextLoader

            adapters = getattr(getattr(cursor, "_cursor", cursor), "adapters", None)
            if adapters is not None:
                for name in _AS_TEXT:
                    adapters.register_loader(name, TextLoader)

    event.listen(engine, "before_cursor_execute", before)


def result_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    """Each column's type, but a type of the database's own that is not an array
    (``declared_kinds``): a ``select()``'s types say more of it (an ``Enum`` of a
    Python enum class)."""
    return [None if user else kind for kind, user in _kinds(result, count)]


def declared_kinds(result: CursorResult[Any], count: int) -> list[Kind]:
    """The types of the database's own (text) that neither the description's exact
    types nor the statement's said."""
    return [kind if user else None for kind, user in _kinds(result, count)]


def _kinds(result: CursorResult[Any], count: int) -> list[tuple[Kind, bool]]:
    """Each column's type, and whether it is a type of the database's own."""
    description = getattr(result.cursor, "description", None) or []
    # SQLAlchemy's async adapter keeps psycopg's cursor as `_cursor` (dbnb.connections.aio).
    cursor = getattr(result.cursor, "_cursor", result.cursor)
    connection = getattr(cursor, "connection", None)
    adapters = getattr(connection, "adapters", None)
    if adapters is None or len(description) != count:  # not psycopg: nothing to learn
        return [(None, False)] * count
    catalog = _learnt(connection, description, adapters)
    kinds: list[tuple[Kind, bool]] = []
    for column in description:
        info = adapters.types.get(column.type_code)
        if info is None:
            kind = _user_type(column.type_code, catalog)
            kinds.append((kind, kind == PG_USER_TYPE))
        else:
            kind = _kind(column, info, catalog)
            if kind is None and adapters.get_loader(column.type_code, _TEXT) is None:
                # No loader of psycopg's (point, an extension's type): it gives their
                # text, so an empty result is text too, where a select() says nothing.
                kinds.append((PG_USER_TYPE, True))
            else:
                kinds.append((kind, False))
    return kinds


def _kind(column: Any, info: Any, catalog: catalogs.Catalog | None) -> Kind:
    name = str(info.name)
    if getattr(info, "array_oid", None) == column.type_code:
        # psycopg finds an array's OID under its element type: int4[] is not int4.
        return _array(name, catalog)
    if name == "numeric":
        fitted = column.precision is None
        return FITTED_DECIMALS if fitted else decimal_type(column.precision, column.scale)
    if name == "money" and catalog is not None and catalog.money_scale is not None:
        return Money(catalog.money_scale)
    if name in PG_TYPES:
        return PG_TYPES[name]
    return OBJECT if name.startswith("_") else None


def _learnt(connection: Any, description: Sequence[Any], adapters: Any) -> catalogs.Catalog | None:
    """The connection's catalog, asked about this result's types it does not know
    (the database's own, and money's scale); None on an async connection, which
    cannot be asked from here (its values then decide, as without a description)."""
    unknown = [c.type_code for c in description if adapters.types.get(c.type_code) is None]
    money = any(_name(adapters, c.type_code) in ("money", "_money") for c in description)
    if not (unknown or money):
        return None
    if _is_async(connection):
        return None
    catalog = catalogs.of_connection(connection)

    def run(sql: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as lookup:
            return list(lookup.execute(sql).fetchall())

    catalog.learn(run, unknown, money)
    return catalog


def _is_async(connection: Any) -> bool:
    import psycopg

    return isinstance(connection, psycopg.AsyncConnection)


def _name(adapters: Any, oid: int) -> str | None:
    info = adapters.types.get(oid)
    if info is None:
        return None
    return f"_{info.name}" if getattr(info, "array_oid", None) == oid else str(info.name)


def _array(element: str | None, catalog: catalogs.Catalog | None) -> Kind:
    if element == "money":
        if catalog is None or catalog.money_scale is None:
            return OBJECT
        return Lists(_money_parser(catalog.money_scale))
    if element in _NOT_FLATTENED:
        return OBJECT
    return Lists()


def _user_type(oid: int, catalog: catalogs.Catalog | None) -> Kind:
    """A type of the database's own: text, or an array of it (as lists of its text)."""
    found = catalog.types.get(oid) if catalog is not None else None
    if found is None:
        return None  # not known: the values decide
    if found.is_array:
        return Lists(text_array=True)
    return PG_USER_TYPE


class Lists:
    """An array column: Python lists, each multi-dimensional array flattened to its
    items (row-major) as ADBC's driver reads it; an array psycopg gave as its text
    (of a type it does not know) parsed into the items' text."""

    kind = OBJECT

    def __init__(self, item: Any = None, text_array: bool = False) -> None:
        self._item = item
        self._text_array = text_array

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        converted = []
        for value in values:
            if value is not None:
                if self._text_array and isinstance(value, str):
                    value = _text_items(value)
                value = _flat(value)
                if self._item is not None:
                    value = [None if item is None else self._item(item) for item in value]
            converted.append(value)
        return converted, True


def _flat(value: list[Any]) -> list[Any]:
    if not any(isinstance(item, list) for item in value):
        return value
    flat: list[Any] = []
    for item in value:
        flat.extend(_flat(item) if isinstance(item, list) else [item])
    return flat


def _text_items(text: str) -> list[Any]:
    """The items of an array's text (``{a,"b c",NULL}``), by psycopg's own parser."""
    from psycopg.types.array import ArrayLoader

    loader = _TEXT_ARRAY_LOADER
    if loader is None:
        loader = _text_array_loader(ArrayLoader)
    return list(loader.load(text.encode()))


def _text_array_loader(array_loader: type) -> Any:
    global _TEXT_ARRAY_LOADER
    loader_class = type("TextItemsLoader", (array_loader,), {"base_oid": 25})
    _TEXT_ARRAY_LOADER = loader_class(0)
    return _TEXT_ARRAY_LOADER


_TEXT_ARRAY_LOADER: Any = None


class Money:
    """``money`` as ``decimal128(19, s)``: psycopg gives the server's text
    (``-$1,234.50``, in its lc_monetary), whose digits are the value's."""

    def __init__(self, scale: int) -> None:
        self.kind = pa.decimal128(MONEY_DIGITS, scale)
        self._parse = _money_parser(scale)

    def convert_all(self, values: Sequence[Any]) -> tuple[list[Any], bool]:
        return [None if value is None else self._parse(value) for value in values], True


def _money_parser(scale: int) -> Any:
    def parse(text: str) -> decimal.Decimal:
        digits = "".join(character for character in text if character.isdigit())
        negative = "-" in text or "(" in text  # some locales write (1.00) for -1.00
        return decimal.Decimal(f"{'-' if negative else ''}{digits or '0'}").scaleb(-scale)

    return parse
