"""``Database.write``: DataFrames, model instances or dicts into a table, in one transaction.

The order of a write is what makes it safe:

1. a ``readonly: true`` connection refuses before anything is opened;
2. the target becomes a SQLAlchemy ``Table`` (a model's, or one reflected by name);
3. every row is validated, a column at a time (``dbnb.validate``), before any
   row is sent: a bad row raises ``ValidationError`` and nothing was written;
4. one transaction sends every row (``dbnb.bulk``: COPY on PostgreSQL,
   batched ``executemany`` on SQLite); any failure, the database's own
   refusals included, rolls the whole write back, and the error names the row.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd
from sqlalchemy import MetaData, Table, UniqueConstraint, exc, inspect
from sqlalchemy.engine import Connection, RootTransaction
from sqlalchemy.orm import Mapper

from dbnb.errors import DbnbError, ValidationError
from dbnb.write import bulk, validate

if TYPE_CHECKING:
    from dbnb.config import ConnectionConfig

log = logging.getLogger("dbnb")

Mode = Literal["append", "upsert", "replace"]
MODES = ("append", "upsert", "replace")


class Writable(Protocol):
    """What a write asks of the connection it writes through (``Database``)."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> ConnectionConfig: ...

    @property
    def backend(self) -> bulk.WriteBackend: ...

    def require_writable(self) -> None: ...

    def connection(
        self, *, write: bool = False, timeout: float | None = None
    ) -> AbstractContextManager[Connection]: ...


def write_rows(
    database: Writable,
    data: Any,
    target: Any,
    mode: Mode = "append",
    *,
    key: str | Sequence[str] | None = None,
    create: bool = False,
    progress: bool | None = None,
) -> int:
    """Write ``data`` into ``target`` as one transaction; the number of rows written."""
    if mode not in MODES:
        raise DbnbError(f"unknown write mode {mode!r}; use one of {', '.join(MODES)}")
    database.require_writable()  # a readonly: true connection refuses before anything else
    table, aliases = resolve(target)
    if create and table is None:
        raise DbnbError(
            f"create=True needs a model class to create {target!r} from, not a table name"
        )
    checked = None
    if table is not None:  # a model: every row is checked before a connection is taken
        checked = _check(data, table, aliases, database.backend, mode, key)
    with database.connection(write=True) as connection:
        if table is None:
            table = reflect(connection, str(target), database.name)
        if checked is None:
            checked = _check(data, table, aliases, database.backend, mode, key)
        with connection.begin() as transaction:
            if create:
                table.create(connection, checkfirst=True)
            elif not inspect(connection).has_table(table.name, schema=table.schema):
                raise DbnbError(
                    f"connection {database.name!r} has no table {table.name!r}; create it "
                    f"with db.create_tables(...) or write(..., create=True)"
                )
            if not len(checked):
                return 0
            try:
                return bulk.send(
                    connection,
                    checked,
                    mode,
                    checked.keys,
                    config=database.config,
                    backend=database.backend,
                    progress=progress,
                )
            except KeyboardInterrupt:
                _roll_back(connection, transaction, database.name)
                raise


def _roll_back(connection: Connection, transaction: RootTransaction, name: str) -> None:
    """Roll an interrupted write back before ``KeyboardInterrupt`` goes on. The writer
    ended its statement, so this is an ordinary rollback; should the connection be
    unusable all the same, it is discarded (the server rolls back as it closes) and
    Ctrl-C still reads as Ctrl-C, not as the rollback's error."""
    try:
        transaction.rollback()
    except Exception as error:
        log.warning("%s: discarding a connection that could not roll back: %s", name, error)
        connection.invalidate()


def _check(
    data: Any,
    table: Table,
    aliases: dict[str, str],
    backend: bulk.WriteBackend,
    mode: str,
    key: str | Sequence[str] | None,
) -> validate.Checked:
    frame = to_frame(data, table)
    rules = backend.write_rules
    checked = validate.check(frame, table, rules, aliases=aliases)
    if mode == "upsert":
        checked.keys = upsert_keys(table, key)
        for name in checked.keys:
            if name not in checked.columns:
                raise ValidationError.at(
                    table.name,
                    "an upsert needs every row's key (rows without one can only be appended)",
                    column=name,
                )
        bulk.check_unique_keys(checked, checked.keys)
    return checked


def resolve(target: Any) -> tuple[Table | None, dict[str, str]]:
    """The table of a model class (and its attribute -> column names), or None for a name."""
    if isinstance(target, str):
        return None, {}
    if isinstance(target, Table):
        return target, {}
    mapper: Any = inspect(target, raiseerr=False) if isinstance(target, type) else None
    if not isinstance(mapper, Mapper) or not isinstance(mapper.local_table, Table):
        raise DbnbError(
            f"cannot write to {target!r}: give a SQLModel or SQLAlchemy table class, "
            "a sqlalchemy Table, or the name of an existing table"
        )
    aliases = {
        attribute.key: attribute.columns[0].name
        for attribute in mapper.column_attrs
        if attribute.key != attribute.columns[0].name
    }
    return mapper.local_table, aliases


def reflect(connection: Connection, name: str, database_name: str) -> Table:
    """The existing table called ``name`` (``schema.table`` names a schema)."""
    schema, _, table_name = name.rpartition(".")
    try:
        with connection.begin(), warnings.catch_warnings():
            # A type SQLAlchemy does not know (MariaDB's INET4, PostgreSQL's xid) is
            # written as its values are, as a read gave them: no warning to act on.
            warnings.filterwarnings("ignore", "Did not recognize type", exc.SAWarning)
            return Table(table_name, MetaData(), schema=schema or None, autoload_with=connection)
    except exc.NoSuchTableError:
        raise DbnbError(
            f"connection {database_name!r} has no table {name!r}; "
            "write to a model class with create=True to create it"
        ) from None


def upsert_keys(table: Table, key: str | Sequence[str] | None) -> list[str]:
    """The columns an upsert matches rows on: the primary key, or a unique ``key``."""
    if key is None:
        keys = [column.name for column in table.primary_key.columns]
        if not keys:
            raise DbnbError(
                f"table {table.name!r} has no primary key to upsert on; pass key=... "
                "naming a unique column"
            )
        return keys
    keys = [key] if isinstance(key, str) else list(key)
    for name in keys:
        if name not in table.columns:
            raise DbnbError(f"table {table.name!r} has no column {name!r} (upsert key)")
    if set(keys) not in _unique_sets(table):
        raise DbnbError(
            f"table {table.name!r}: upsert key ({', '.join(keys)}) is neither the primary key "
            "nor a unique constraint or index; the database could not tell rows apart by it"
        )
    return keys


def _unique_sets(table: Table) -> list[set[str]]:
    sets = [{column.name for column in table.primary_key.columns}]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            sets.append({column.name for column in constraint.columns})
    sets.extend(
        {column.name for column in index.columns} for index in table.indexes if index.unique
    )
    sets.extend({column.name} for column in table.columns if column.unique)
    return sets


def to_frame(data: Any, table: Table) -> pd.DataFrame:
    """A DataFrame of ``data``: a DataFrame itself, model instances, or dicts."""
    if isinstance(data, pd.DataFrame):
        return data
    items: Any = [data] if isinstance(data, Mapping) or _is_model(data) else data
    if not isinstance(items, Iterable) or isinstance(items, str | bytes):
        raise DbnbError(
            f"cannot write {type(data).__name__}: give a DataFrame, model instances or dicts"
        )
    records = [_record(item, table) for item in items]
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    # Column by column, as Python objects: pandas would turn ints with a None into floats.
    columns = {
        name: pd.Series([record.get(name) for record in records], dtype=object) for name in names
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _record(item: Any, table: Table) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    mapper = inspect(type(item), raiseerr=False)
    if isinstance(mapper, Mapper):
        return {attribute.key: getattr(item, attribute.key) for attribute in mapper.column_attrs}
    raise DbnbError(
        f"cannot write a {type(item).__name__} to table {table.name!r}: "
        "give model instances or dicts"
    )


def _is_model(value: Any) -> bool:
    return isinstance(inspect(type(value), raiseerr=False), Mapper)
