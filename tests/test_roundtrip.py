"""Exact round trips: a DataFrame written through a model reads back equal, on both databases."""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, BigInteger, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlmodel import Field, SQLModel, select

import dbnb


class Mood(enum.Enum):
    happy = "h"
    sad = "s"
    ünïcødé = "u"


JSONB_ON_PG = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Everything(SQLModel, table=True):
    """Every type of the round trip, each also nullable."""

    __tablename__ = "write_everything"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    i: int
    i_null: int | None = None
    big: int = Field(sa_type=BigInteger)
    big_null: int | None = Field(default=None, sa_type=BigInteger)
    f: float
    f_null: float | None = None
    dec: Decimal = Field(max_digits=12, decimal_places=2)
    dec_null: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
    flag: bool
    flag_null: bool | None = None
    s: str
    s_null: str | None = None
    d: dt.date
    d_null: dt.date | None = None
    ts: dt.datetime  # SQLModel: DateTime(timezone=True), read back in UTC
    ts_null: dt.datetime | None = None
    u: uuid.UUID
    u_null: uuid.UUID | None = None
    doc: dict[str, Any] = Field(sa_type=JSONB_ON_PG)
    doc_null: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    mood: Mood
    mood_null: Mood | None = None


class Arrays(SQLModel, table=True):
    """PostgreSQL arrays."""

    __tablename__ = "write_arrays"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ints: list[int] = Field(sa_type=ARRAY(Integer))
    texts: list[str] | None = Field(default=None, sa_type=ARRAY(Text))


TOKYO = dt.timezone(dt.timedelta(hours=9))
ROW: dict[str, Any] = {
    "i": -(2**31),
    "big": 2**63 - 1,
    "f": 0.1,
    "dec": Decimal("-9999999999.99"),
    "flag": True,
    "s": "Ünïcødé ✓ 'quoted' \"double\" \\ back\ttab\nline",
    "d": dt.date(1, 1, 1),
    "ts": dt.datetime(2024, 2, 29, 23, 30, 0, 123456, tzinfo=TOKYO),
    "u": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "doc": {"a": [1, 2.5, {"b": None}], "ß": "日本", "\\u0000": "\\"},
    "mood": Mood.ünïcødé,
}


@pytest.fixture
def everything(registry: dbnb.Registry, backend: str) -> dbnb.Database:
    database = registry.connect(backend)
    with database.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS write_everything"))
        session.execute(text("DROP TABLE IF EXISTS write_arrays"))
        if backend == "postgresql":
            session.execute(text("DROP TYPE IF EXISTS mood"))
    database.create_tables(Everything)
    if backend == "postgresql":
        database.create_tables(Arrays)
    return database


def typed_frame(database: dbnb.Database, model: Any, records: list[dict[str, Any]]) -> pd.DataFrame:
    """``records`` in exactly the dtypes a query of ``model`` gives on this database."""
    dtypes = database.query(select(model).limit(0)).dtypes
    columns = {}
    for name, dtype in dtypes.items():
        values = [record.get(str(name)) for record in records]
        columns[name] = pd.Series(values, dtype=dtype)
    frame = pd.DataFrame(columns)
    frame.columns = pd.Index(list(columns), dtype=object)  # as dbnb's queries name columns
    return frame


def read_back(database: dbnb.Database, model: Any) -> pd.DataFrame:
    return database.query(select(model).order_by(model.id))


def full_and_empty() -> list[dict[str, Any]]:
    nulls = {f"{name}_null": None for name in ROW}
    return [
        {"id": 1, **ROW, **{f"{name}_null": value for name, value in ROW.items()}},
        {"id": 2, **ROW, **nulls},
    ]


def test_every_type_round_trips_exactly(everything: dbnb.Database) -> None:
    frame = typed_frame(everything, Everything, full_and_empty())
    assert everything.write(frame, Everything) == 2
    back = read_back(everything, Everything)
    pd.testing.assert_frame_equal(back, frame)
    assert back["ts"].iloc[0] == pd.Timestamp("2024-02-29 14:30:00.123456", tz="UTC")
    assert back["dec"].iloc[0] == Decimal("-9999999999.99")
    assert back["mood"].iloc[0] is Mood.ünïcødé


def test_plain_numpy_and_object_columns_go_in_too(everything: dbnb.Database) -> None:
    records = full_and_empty()
    frame = pd.DataFrame(
        {
            "id": np.array([1, 2]),
            "i": np.array([ROW["i"]] * 2),
            "i_null": pd.array([ROW["i"], None], dtype="Int64"),
            "big": np.array([ROW["big"]] * 2, dtype=np.int64),
            "big_null": pd.array([ROW["big"], None], dtype="Int64"),
            "f": np.array([0.1, 0.1]),
            "f_null": np.array([0.1, np.nan]),  # NaN in a numpy float column is missing
            "dec": [ROW["dec"]] * 2,
            "dec_null": [ROW["dec"], None],
            "flag": np.array([True, True]),
            "flag_null": pd.array([True, None], dtype="boolean"),
            "s": [ROW["s"]] * 2,
            "s_null": pd.array([ROW["s"], None], dtype="string"),
            "d": [ROW["d"]] * 2,
            "d_null": [ROW["d"], None],
            "ts": pd.to_datetime([ROW["ts"]] * 2),
            "ts_null": pd.Series([pd.Timestamp(ROW["ts"]), pd.NaT]),
            "u": [str(ROW["u"])] * 2,  # UUIDs as text are parsed
            "u_null": [ROW["u"], None],
            "doc": [ROW["doc"]] * 2,
            "doc_null": [ROW["doc"], None],
            "mood": [ROW["mood"].name] * 2,  # enum names are taken for members
            "mood_null": [ROW["mood"], None],
        }
    )
    everything.write(frame, Everything)
    pd.testing.assert_frame_equal(
        read_back(everything, Everything), typed_frame(everything, Everything, records)
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_arrays_round_trip_on_postgresql(everything: dbnb.Database) -> None:
    records = [
        {"id": 1, "ints": [1, -(2**31), 2**31 - 1], "texts": ["a", "", "NULL", "ü,{}\"'\\", None]},
        {"id": 2, "ints": [], "texts": None},
    ]
    frame = typed_frame(everything, Arrays, records)
    assert everything.write(frame, Arrays) == 2
    pd.testing.assert_frame_equal(read_back(everything, Arrays), frame)
    with pytest.raises(dbnb.ValidationError, match="elements do not fit"):
        everything.write(pd.DataFrame({"id": [3], "ints": [[2**40]]}), Arrays)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"x": float("nan")}, "not JSON: Out of range float values"),
        ({"when": dt.date(2024, 1, 1)}, "not JSON: Object of type date"),
    ],
)
def test_values_json_cannot_hold_are_refused(
    everything: dbnb.Database, doc: dict[str, Any], reason: str
) -> None:
    records = full_and_empty()
    records[1]["doc"] = doc
    frame = typed_frame(everything, Everything, records)
    with pytest.raises(dbnb.ValidationError, match=reason) as caught:
        everything.write(frame, Everything)
    assert (caught.value.row, caught.value.column) == (1, "doc")
    assert len(read_back(everything, Everything)) == 0


# --- property-based: NULLs, unicode, extreme values --------------------------------------

TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(-1e15, 1e15, allow_nan=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)
ZONES = st.sampled_from(
    [dt.UTC, TOKYO, dt.timezone(dt.timedelta(hours=-5, minutes=-30)), dt.timezone.max]
)
COLUMNS: dict[str, st.SearchStrategy[Any]] = {
    "i": st.integers(-(2**31), 2**31 - 1),
    "big": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=False),
    "dec": st.decimals(
        min_value=Decimal("-9999999999.99"),
        max_value=Decimal("9999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    "flag": st.booleans(),
    "s": TEXT,
    "d": st.dates(),
    "ts": st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES
    ),
    # RFC 4122 UUIDs of a known version: MariaDB's UUID type refuses the others.
    "u": st.uuids().map(lambda u: uuid.UUID(int=u.int, version=4)),
    "doc": st.dictionaries(TEXT, JSON_VALUES, max_size=3),
    "mood": st.sampled_from(Mood),
}
RECORD = st.fixed_dictionaries(
    {
        **COLUMNS,
        **{f"{name}_null": st.none() | strategy for name, strategy in COLUMNS.items()},
    }
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(RECORD, min_size=1, max_size=8))
def test_any_rows_round_trip(everything: dbnb.Database, records: list[dict[str, Any]]) -> None:
    records = [{"id": position, **record} for position, record in enumerate(records)]
    frame = typed_frame(everything, Everything, records)
    if everything.config.backend == "mysql" and any(
        value in (math.inf, -math.inf) for record in records for value in record.values()
    ):
        # MySQL's DOUBLE has no infinities: refused, and nothing written.
        with pytest.raises(dbnb.WriteError, match="cannot store"):
            everything.write(frame, Everything, mode="replace")
        return
    assert everything.write(frame, Everything, mode="replace") == len(records)
    pd.testing.assert_frame_equal(read_back(everything, Everything), frame)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_array_columns_are_objects_even_without_rows(everything: dbnb.Database) -> None:
    # psycopg files int4[] under int4's type info: an empty result must not say int32.
    empty = everything.query("SELECT ARRAY[1, 2] AS ints, ARRAY['a'] AS texts WHERE false")
    assert list(empty.dtypes) == [object, object]
    assert list(everything.query(select(Arrays).limit(0)).dtypes[1:]) == [object, object]


@pytest.mark.parametrize("backend", ["postgresql"])
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {
                "ints": st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4),
                "texts": st.none() | st.lists(st.none() | TEXT, max_size=4),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_arrays_round_trip(everything: dbnb.Database, records: list[dict[str, Any]]) -> None:
    records = [{"id": position, **record} for position, record in enumerate(records)]
    frame = typed_frame(everything, Arrays, records)
    assert everything.write(frame, Arrays, mode="replace") == len(records)
    pd.testing.assert_frame_equal(read_back(everything, Arrays), frame)


# --- the other types of the dtype table, a SQLAlchemy Table, declarative classes --------


def test_the_dtype_tables_types_round_trip(registry: dbnb.Registry, backend: str) -> None:
    from tests.test_dtypes import EMPTY, FULL, metadata, typed

    database = registry.connect(backend)
    with database.session(write=True) as session:
        metadata.drop_all(session.connection())
    database.create_tables(typed)
    frame = typed_frame(database, typed, [FULL, EMPTY])
    assert database.write(frame, typed) == 2
    back = database.query(select(typed).order_by(typed.c.id))
    pd.testing.assert_frame_equal(back, frame)
    assert back["clock"].iloc[0] == FULL["clock"]
    assert back["blob"].iloc[0] == FULL["blob"]


class Base(DeclarativeBase):
    pass


class Ledger(Base):
    """A SQLAlchemy declarative class whose attribute names differ from its column names."""

    __tablename__ = "write_ledger"
    entry: Mapped[int] = mapped_column("id", primary_key=True, autoincrement=False)
    amount: Mapped[Decimal] = mapped_column("value", Numeric)  # no precision: any digits
    note: Mapped[str | None] = mapped_column(String(10), default="none")


def test_declarative_classes_and_attribute_names(registry: dbnb.Registry, backend: str) -> None:
    database = registry.connect(backend)
    with database.session(write=True) as session:
        Base.metadata.drop_all(session.connection())
    huge = Decimal("12345678901234567890123456789012345678901234.5678")
    small = Decimal("0.5")
    frame = pd.DataFrame(
        {"entry": [1, 2], "value": [huge if backend == "postgresql" else small, small]}
    )
    assert database.write(frame, Ledger, create=True) == 2
    found = database.read_models(Ledger)
    assert [(row.entry, row.note) for row in found] == [(1, "none"), (2, "none")]
    assert found[1].amount == small
    if backend == "postgresql":  # SQLite keeps numerics as floats, MySQL 65 digits at most
        assert found[0].amount == huge
    with pytest.raises(dbnb.ValidationError, match="given twice"):
        database.write(pd.DataFrame({"entry": [3], "id": [3]}), Ledger)
