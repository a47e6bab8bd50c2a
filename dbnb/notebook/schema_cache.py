"""What completion knows of a database: each connection's tables and columns, read
once in a background thread and cached (``SchemaCache``), so a slow or
unreachable server never holds up typing; read again after DDL or on request.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine.reflection import ObjectKind

from dbnb.backends import typetables
from dbnb.backends.registry import backend_for
from dbnb.errors import DbnbError

if TYPE_CHECKING:
    from dbnb.connections.facade import Catalog, Facade


# Most schemas whose tables one read takes (a server with thousands reads the first ones).
MAX_SCHEMAS = 50


@dataclass(frozen=True)
class Schema:
    """A connection's tables and views, each with its column names and, where known,
    the pandas dtype each column reads as (its database's type table says)."""

    default: str | None
    tables: Mapping[tuple[str | None, str], tuple[str, ...]]
    # By the same keys: each column's dtype, None where its values decide.
    types: Mapping[tuple[str | None, str], tuple[str | None, ...]] = field(default_factory=dict)

    def table_names(self) -> list[str]:
        """Names as a user types them: bare in the default schema, ``schema.table`` elsewhere."""
        return sorted(
            name if schema in (None, self.default) else f"{schema}.{name}"
            for schema, name in self.tables
        )

    def schemas(self) -> set[str]:
        return {schema for schema, _ in self.tables if schema is not None}

    def tables_in(self, schema: str) -> list[str]:
        wanted = schema.lower()
        return sorted(
            name for owner, name in self.tables if owner is not None and owner.lower() == wanted
        )

    def columns_of(self, table: str) -> tuple[str, ...] | None:
        """The columns of ``table`` (``schema.table`` works), matched without case."""
        key = self._key_of(table)
        return None if key is None else self.tables[key]

    def typed_columns_of(self, table: str) -> list[tuple[str, str | None]] | None:
        """The columns of ``table`` with the dtype each reads as (None: not known)."""
        key = self._key_of(table)
        if key is None:
            return None
        columns = self.tables[key]
        types = self.types.get(key) or (None,) * len(columns)
        return list(zip(columns, types, strict=True))

    def _key_of(self, table: str) -> tuple[str | None, str] | None:
        owner, _, name = table.rpartition(".")
        wanted = name.lower()
        for schema, known in self.tables:
            if known.lower() != wanted:
                continue
            if (owner and (schema or "").lower() == owner.lower()) or (
                not owner and schema in (None, self.default)
            ):
                return schema, known
        return None


def read_schema(db: Facade) -> Schema:
    """Every table and view of ``db`` with its columns, in one read-only connection."""
    *_, schema = read_schemas(db)
    return schema


def read_schemas(db: Facade) -> Iterator[Schema]:
    """What ``read_schema`` gives, in steps: the default schema's tables first (what a
    user types most, and all a completion waits for), then every schema's.

    SQLAlchemy reads them in bulk (one catalog query per schema on PostgreSQL, one
    ``PRAGMA`` per table on SQLite), so a schema of 1,000 tables is one round trip.
    """
    catalog = db.catalog()  # a database's own listing (Spark's), else SQLAlchemy's inspector
    if catalog is not None:
        yield _catalog_schema(catalog, db.config.backend)
        return
    with db.connection() as connection:
        inspector = sa_inspect(connection)
        dialect = connection.dialect
        default = inspector.default_schema_name
        system = backend_for(db.config.backend).system_schemas  # the database's catalog
        names = [
            name
            for name in inspector.get_schema_names()
            if name == default or not name.startswith(system)
        ]
        names = sorted(names, key=lambda name: name != default)[:MAX_SCHEMAS]
        tables: dict[tuple[str | None, str], tuple[str, ...]] = {}
        types: dict[tuple[str | None, str], tuple[str | None, ...]] = {}
        dtypes: dict[Any, str | None] = {}  # a schema's columns share few types
        for schema in names:
            with warnings.catch_warnings():
                # A type SQLAlchemy does not know (point, xid) completes with no dtype;
                # its warning would print under the user's cell at each completion.
                warnings.filterwarnings("ignore", "Did not recognize type", exc.SAWarning)
                found = inspector.get_multi_columns(schema=schema, kind=ObjectKind.ANY)
            for (_, table), columns in found.items():
                tables[(schema, table)] = tuple(column["name"] for column in columns)
                types[(schema, table)] = tuple(
                    _dtype(dtypes, column["type"], dialect) for column in columns
                )
            if schema == default and len(names) > 1:
                yield Schema(default=default, tables=dict(tables), types=dict(types))
        connection.rollback()
    yield Schema(default=default, tables=tables, types=types)


def _dtype(known: dict[Any, str | None], sql_type: Any, dialect: Any) -> str | None:
    """The dtype a column of ``sql_type`` reads as (``known``: those found already, by
    the type's class and plain arguments: its length, precision, scale, time zone, an
    enum's name; a repr costs ten times the time, and an array's item type, which this
    leaves out, never changes its dtype)."""
    plain = (str, int, bool, type(None))
    arguments = tuple(
        sorted((key, value) for key, value in vars(sql_type).items() if isinstance(value, plain))
    )
    key = (type(sql_type), arguments)
    if key not in known:
        known[key] = typetables.column_dtype(dialect.name, sql_type, dialect)
    return known[key]


def _catalog_schema(catalog: Catalog, backend: str) -> Schema:
    """The tables of the default schema and their columns, from a database's catalog."""
    listed = catalog.tables(None)
    default = str(listed["schema"].iloc[0]) if len(listed) else None
    table_types = typetables.for_backend(backend)
    tables: dict[tuple[str | None, str], tuple[str, ...]] = {}
    types: dict[tuple[str | None, str], tuple[str | None, ...]] = {}
    for schema, table in zip(listed["schema"], listed["table"], strict=True):
        described = catalog.describe(table, schema)
        key = (str(schema), str(table))
        tables[key] = tuple(str(column) for column in described["column"])
        types[key] = tuple(
            None if table_types is None else table_types.dtype(str(name))
            for name in described["type"]
        )
    return Schema(default=default, tables=tables, types=types)


@dataclass
class _Entry:
    schema: Schema | None = None
    loading: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)
    failed_at: float | None = None


class SchemaCache:
    """Each connection's ``Schema``, read once in a background thread and kept.

    ``get`` never waits more than ``wait`` seconds: past that it answers None
    (nothing known yet) and the read goes on for the next request, which gets
    each step of it as soon as it lands (the default schema first). A read
    that failed is tried again after ``retry`` seconds.
    """

    def __init__(
        self,
        read: Callable[[Facade], Iterable[Schema]] = read_schemas,
        *,
        # A Tab answers within 150 ms: the wait, plus the rest of IPython's
        # completion on a main thread that shares the GIL with the read.
        wait: float = 0.1,
        retry: float = 30.0,
    ) -> None:
        self.read = read
        self.wait = wait
        self.retry = retry
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: str, open_db: Callable[[], Facade]) -> Schema | None:
        """What is known of the database ``open_db`` gives (cached under ``key``), waiting
        at most ``wait`` seconds. ``open_db`` runs in the background thread too: opening a
        database imports its drivers, which takes longer than the wait."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.schema is not None:
                return entry.schema
            if entry is None or (
                entry.failed_at is not None and time.monotonic() - entry.failed_at > self.retry
            ):
                entry = self._entries[key] = _Entry()
            if entry.loading is None:
                entry.loading = threading.Thread(
                    target=self._load, args=(entry, open_db), name=f"dbnb-schema-{key}", daemon=True
                )
                entry.loading.start()
        entry.done.wait(self.wait)
        return entry.schema

    def _load(self, entry: _Entry, open_db: Callable[[], Facade]) -> None:
        try:
            for schema in self.read(open_db()):
                entry.schema = schema
                entry.done.set()  # a waiting Tab takes the first step
        except (DbnbError, exc.SQLAlchemyError, OSError):
            # A completion has no one to tell: it answers without the schema, and
            # the next request after `retry` seconds tries again.
            entry.failed_at = time.monotonic()
        finally:
            entry.done.set()

    def refresh(self, key: str, db: Facade) -> Schema:
        """Read ``db``'s schema now (``%db tables --refresh``) and keep it."""
        *_, schema = self.read(db)
        done = _Entry(schema=schema)
        done.done.set()
        with self._lock:
            self._entries[key] = done
        return schema

    def invalidate(self, key: str | None = None) -> None:
        """Forget ``key``'s schema (every one with None): the next request reads it again."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)


def changes_schema(kinds: Iterable[str]) -> bool:
    """Whether a cell whose statements are of ``kinds`` (their first keywords,
    ``CellResult.kinds``) ran DDL, after which its schema is read again."""
    ddl = {"CREATE", "DROP", "ALTER", "RENAME", "TRUNCATE", "COMMENT", "ATTACH", "DETACH"}
    return any(kind in ddl for kind in kinds)
