"""Database.write: modes, validation before sending, the database's refusals, one transaction."""

from __future__ import annotations

import enum
import threading
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from psycopg.conninfo import make_conninfo
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel, select

import dbnb
from dbnb.backends.registry import backend_for
from dbnb.write import validate
from tests.fixtures import PG_ADMIN, Item, rows

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]


class Rank(enum.Enum):
    bronze = "b"
    silver = "s"
    gold = "g"


class Shield(SQLModel, table=True):
    """A model whose table the tests create through dbnb."""

    __tablename__ = "write_shield"
    __table_args__ = (UniqueConstraint("code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=8)
    name: str = Field(max_length=20)
    defense: int
    rank: Rank | None = None


@pytest.fixture
def shields(db: dbnb.Database) -> dbnb.Database:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS write_shield"))
        if db.engine.dialect.name == "postgresql":
            session.execute(text("DROP TYPE IF EXISTS rank"))
    db.create_tables(Shield)
    return db


def shield_rows(database: dbnb.Database) -> list[tuple[object, ...]]:
    return rows(database, "write_shield")


# --- modes -----------------------------------------------------------------------------


def test_append_returns_rows_written(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [4, 5], "name": ["four", "five"]})
    assert db.write(frame, Item) == 2
    assert rows(db) == [*ORIGINAL, (4, "four"), (5, "five")]


def test_upsert_updates_and_inserts_by_primary_key(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [2, 4], "name": ["TWO", "four"]})
    assert db.write(frame, Item, mode="upsert") == 2
    assert rows(db) == [(1, "one"), (2, "TWO"), (3, "three"), (4, "four")]


def test_upsert_leaves_unchanged_rows_alone(db: dbnb.Database, backend: str) -> None:
    # PostgreSQL's xmin is the transaction that wrote a row version; SQLite has no such thing.
    version = "xmin::text" if backend == "postgresql" else "'-'"
    versions = f"SELECT id, {version} FROM items ORDER BY id"
    before = rows(db, f"({versions}) AS v")
    frame = pd.DataFrame({"id": [1, 2, 3], "name": ["one", "two", "three"]})
    assert db.write(frame, Item, mode="upsert") == 0
    assert rows(db) == ORIGINAL
    assert rows(db, f"({versions}) AS v") == before


def test_replace_leaves_exactly_the_new_rows(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [7], "name": ["seven"]})
    assert db.write(frame, Item, mode="replace") == 1
    assert rows(db) == [(7, "seven")]


def test_unknown_mode_is_refused(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.DbnbError, match="unknown write mode 'merge'"):
        db.write([], Item, mode="merge")  # type: ignore[arg-type]
    assert rows(db) == ORIGINAL


def test_models_and_dicts_are_rows_too(db: dbnb.Database) -> None:
    assert db.write([Item(id=4, name="four"), Item(id=5, name="five")], Item) == 2
    assert db.write([{"id": 6, "name": "six"}], Item) == 1
    assert db.write(Item(id=7, name="seven"), Item) == 1
    assert rows(db)[3:] == [(4, "four"), (5, "five"), (6, "six"), (7, "seven")]


def test_a_table_name_is_reflected(db: dbnb.Database) -> None:
    assert db.write(pd.DataFrame({"id": [4], "name": ["four"]}), "items") == 1
    assert rows(db)[-1] == (4, "four")
    with pytest.raises(dbnb.DbnbError, match="has no table 'nope'"):
        db.write(pd.DataFrame({"id": [5]}), "nope")


def test_autoincrement_key_left_to_the_database(shields: dbnb.Database) -> None:
    made = [Shield(code="a", name="Aegis", defense=90), Shield(code="b", name="Buckler", defense=5)]
    assert shields.write(made, Shield) == 2
    assert [row[:4] for row in shield_rows(shields)] == [
        (1, "a", "Aegis", 90),
        (2, "b", "Buckler", 5),
    ]


def test_upsert_on_a_unique_key(shields: dbnb.Database) -> None:
    shields.write(pd.DataFrame({"code": ["a", "b"], "name": ["A", "B"], "defense": [1, 2]}), Shield)
    frame = pd.DataFrame({"code": ["b", "c"], "name": ["B2", "C"], "defense": [20, 3]})
    assert shields.write(frame, Shield, mode="upsert", key="code") == 2
    assert [row[1:4] for row in shield_rows(shields)] == [
        ("a", "A", 1),
        ("b", "B2", 20),
        ("c", "C", 3),
    ]
    with pytest.raises(dbnb.DbnbError, match=r"upsert key \(name\) is neither"):
        shields.write(frame, Shield, mode="upsert", key="name")


def test_query_edit_upsert_round_trip(db: dbnb.Database) -> None:
    frame = db.query(select(Item).order_by(Item.id))  # Arrow-backed dtypes, as queries give
    frame.loc[frame["id"] == 2, "name"] = "deux"
    assert db.write(frame, Item, mode="upsert") == 1  # the one row that changed
    pd.testing.assert_frame_equal(db.query(select(Item).order_by(Item.id)), frame)


def test_empty_data_writes_nothing(db: dbnb.Database) -> None:
    assert db.write(pd.DataFrame({"id": [], "name": []}), Item) == 0
    assert db.write([], Item) == 0
    assert rows(db) == ORIGINAL


# --- validation before anything is sent ------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("name", None, "NULL in a NOT NULL column"),
        ("name", "x" * 21, "21 characters, longer than 20"),
        ("defense", "strong", "expected whole numbers"),
        ("defense", 2.5, "not a whole number"),
        ("defense", 2**70, "out of range"),
        ("rank", "platinum", "not one of bronze, silver, gold"),
        ("code", 12, "expected strings"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_written(
    shields: dbnb.Database, column: str, value: object, reason: str
) -> None:
    good = {"code": "ok", "name": "Fine", "defense": 1, "rank": Rank.gold}
    data = [dict(good, code=f"c{i}") for i in range(5)]
    data[3] = dict(data[3], **{column: value})
    frame = pd.DataFrame(data, index=[10, 11, 12, 13, 14])
    with pytest.raises(dbnb.ValidationError, match=reason) as caught:
        shields.write(frame, Shield)
    error = caught.value
    assert (error.row, error.column) == (13, column)
    assert error.value == value or (value is None and error.value is None)
    assert "row 13" in str(error)
    assert f"column {column!r}" in str(error)
    assert "nothing was written" in str(error)
    assert shield_rows(shields) == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_integer_is_four_bytes(shields: dbnb.Database) -> None:
    frame = pd.DataFrame({"code": ["a", "b"], "name": ["A", "B"], "defense": [1, 2**31]})
    with pytest.raises(dbnb.ValidationError, match=r"out of range \(-2147483648 to 2147483647\)"):
        shields.write(frame, Shield)
    assert shield_rows(shields) == []


def test_unknown_and_missing_columns(shields: dbnb.Database) -> None:
    with pytest.raises(dbnb.ValidationError, match="column 'colour': no such column") as caught:
        shields.write(pd.DataFrame({"code": ["a"], "colour": ["red"]}), Shield)
    assert caught.value.column == "colour"
    with pytest.raises(
        dbnb.ValidationError, match="column 'name': missing: the column is NOT NULL"
    ):
        shields.write(pd.DataFrame({"code": ["a"], "defense": [1]}), Shield)
    assert shield_rows(shields) == []


def test_enum_members_and_names_both_go_in(shields: dbnb.Database) -> None:
    frame = pd.DataFrame(
        {
            "code": ["a", "b", "c"],
            "name": ["A", "B", "C"],
            "defense": [1, 2, 3],
            "rank": [Rank.gold, "silver", None],
        }
    )
    shields.write(frame, Shield)
    back = shields.query(select(Shield).order_by(Shield.id))
    assert back["rank"].tolist() == [Rank.gold, Rank.silver, None]


def test_time_zones_must_match_the_column(backend: str) -> None:
    table = Table(
        "t", MetaData(), Column("aware", DateTime(timezone=True)), Column("naive", DateTime)
    )
    naive = pd.Series(pd.to_datetime(["2024-01-01 12:00"]))
    aware = naive.dt.tz_localize("UTC")
    rules = backend_for(backend).write_rules
    with pytest.raises(dbnb.ValidationError, match="naive timestamp in a column WITH time zone"):
        validate.check(pd.DataFrame({"aware": naive}), table, rules)
    if backend == "sqlite":
        # SQLite declares both alike and reads a DATETIME as UTC: aware is stored as UTC.
        tokyo = aware.dt.tz_convert("Asia/Tokyo")
        checked = validate.check(pd.DataFrame({"naive": tokyo}), table, rules)
        assert checked.columns["naive"].to_pylist() == naive.dt.to_pydatetime().tolist()
    else:
        with pytest.raises(
            dbnb.ValidationError, match="time-zone-aware timestamp in a column WITH"
        ):
            validate.check(pd.DataFrame({"naive": aware}), table, rules)
    checked = validate.check(pd.DataFrame({"aware": aware, "naive": naive}), table, rules)
    assert checked.columns["aware"].type == pa.timestamp("us", tz="UTC")


def test_upsert_refuses_the_same_key_twice(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [5, 6, 5], "name": ["a", "b", "c"]})
    with pytest.raises(dbnb.ValidationError, match="the same key as row 0") as caught:
        db.write(frame, Item, mode="upsert")
    assert (caught.value.row, caught.value.value) == (2, 5)
    assert rows(db) == ORIGINAL


# --- the database's own refusals, and one transaction ------------------------------------


def test_a_unique_violation_names_the_row_and_rolls_back(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [4, 5, 2, 6], "name": ["four", "five", "again", "six"]})
    with pytest.raises(dbnb.WriteError, match="the database refused it") as caught:
        db.write(frame, Item)
    assert caught.value.row == 2
    assert caught.value.value == 2
    assert not isinstance(caught.value, dbnb.ValidationError)
    assert rows(db) == ORIGINAL
    assert db.engine.pool.checkedout() == 0


def test_an_upsert_that_breaks_another_unique_key_names_the_row(shields: dbnb.Database) -> None:
    start = pd.DataFrame({"code": ["a", "b"], "name": ["A", "B"], "defense": [1, 2]})
    shields.write(start, Shield)
    before = shield_rows(shields)
    # Row 1 keeps its id but takes the code of id 1: the unique code refuses it.
    clash = pd.DataFrame({"id": [2, 2], "code": ["z", "a"], "name": ["Z", "B"], "defense": [0, 2]})
    with pytest.raises(dbnb.ValidationError, match="the same key as row 0"):
        shields.write(clash, Shield, mode="upsert")
    clash = pd.DataFrame({"id": [3, 2], "code": ["c", "a"], "name": ["C", "B"], "defense": [3, 2]})
    with pytest.raises(dbnb.WriteError, match=r"(?i)unique") as caught:
        shields.write(clash, Shield, mode="upsert")
    assert caught.value.row == 1
    assert shield_rows(shields) == before


def test_replace_rolls_back_the_delete_too(db: dbnb.Database) -> None:
    frame = pd.DataFrame({"id": [8, 8], "name": ["a", "b"]})
    with pytest.raises(dbnb.WriteError) as caught:
        db.write(frame, Item, mode="replace")
    assert caught.value.row == 1
    assert rows(db) == ORIGINAL


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_foreign_key_violation_names_the_row(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS write_owned"))
        session.execute(
            text(
                "CREATE TABLE write_owned (id int PRIMARY KEY, item_id int, "
                "FOREIGN KEY (item_id) REFERENCES items (id))"
            )
        )
    frame = pd.DataFrame({"id": [1, 2, 3], "item_id": [1, 99, 3]}, index=["x", "y", "z"])
    refused = r"is not present in table|a foreign key constraint fails"
    try:
        with pytest.raises(dbnb.WriteError, match=refused) as caught:
            db.write(frame, "write_owned", mode="upsert")
        assert (caught.value.row, caught.value.column, caught.value.value) == ("y", "item_id", 99)
        assert rows(db, "write_owned") == []
    finally:
        with db.session(write=True) as session:
            session.execute(text("DROP TABLE write_owned"))


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_composite_foreign_key_violation_names_the_row(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS write_child"))
        session.execute(text("DROP TABLE IF EXISTS write_pair"))
        session.execute(text("CREATE TABLE write_pair (a int, b int, PRIMARY KEY (a, b))"))
        session.execute(text("INSERT INTO write_pair VALUES (1, 1), (2, 2)"))
        session.execute(
            text(
                "CREATE TABLE write_child (id int PRIMARY KEY, a int, b int, "
                "FOREIGN KEY (a, b) REFERENCES write_pair (a, b))"
            )
        )
    # A NULL in the key is not checked; (2, 3) names no pair.
    frame = pd.DataFrame(
        {"id": [1, 2, 3], "a": [1, 2, 2], "b": pd.array([1, None, 3], dtype="Int64")},
        index=["p", "q", "r"],
    )
    try:
        with pytest.raises(dbnb.WriteError) as caught:
            db.write(frame, "write_child")
        assert caught.value.row == "r"
        assert caught.value.value == (2, 3)
        assert rows(db, "write_child") == []
    finally:
        with db.session(write=True) as session:
            session.execute(text("DROP TABLE write_child"))
            session.execute(text("DROP TABLE write_pair"))


def _fail_on_row(database: dbnb.Database, id_: int) -> None:
    """A trigger that makes the database itself fail when it reaches one row."""
    with database.session(write=True) as session:
        if database.engine.dialect.name == "postgresql":
            session.execute(
                text(
                    "CREATE OR REPLACE FUNCTION write_boom() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.id = {id_} THEN RAISE EXCEPTION 'boom at %', NEW.id; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER write_boom BEFORE INSERT ON items "
                    "FOR EACH ROW EXECUTE FUNCTION write_boom()"
                )
            )
        elif database.engine.dialect.name == "mysql":
            session.execute(text("DROP TRIGGER IF EXISTS write_boom"))
            session.execute(
                text(
                    "CREATE TRIGGER write_boom BEFORE INSERT ON items FOR EACH ROW BEGIN "
                    f"IF NEW.id = {id_} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; "
                    "END IF; END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE TRIGGER write_boom BEFORE INSERT ON items "
                    f"WHEN NEW.id = {id_} BEGIN SELECT RAISE(ABORT, 'boom'); END"
                )
            )


def test_an_error_half_way_through_a_large_write_leaves_the_table_unchanged(
    db: dbnb.Database, backend: str
) -> None:
    # More rows than one batch (dbnb.bulk.BATCH_ROWS), failing in the second batch.
    count = 30_000
    _fail_on_row(db, 25_000)
    frame = pd.DataFrame({"id": range(10, 10 + count), "name": [f"n{i}" for i in range(count)]})
    with pytest.raises(dbnb.WriteError, match="boom") as caught:
        db.write(frame, Item)
    # MariaDB does not say which row of a multi-row INSERT a trigger refused.
    assert caught.value.row == (None if backend == "mysql" else 25_000 - 10)
    assert rows(db) == ORIGINAL
    with db.session(write=True) as session:
        assert session.execute(text("SELECT count(*) FROM items")).scalar() == 3


# --- read-only, progress, tables and models ---------------------------------------------


def test_a_readonly_connection_refuses_before_touching_the_database(
    registry: dbnb.Registry, backend: str, tmp_path: Path
) -> None:
    readonly = registry.connect(f"{backend}_ro")
    frame = pd.DataFrame({"id": [4], "name": ["four"]})
    for target in (Item, "items"):
        with pytest.raises(dbnb.ReadOnlyError, match="readonly: true"):
            readonly.write(frame, target)
    with pytest.raises(dbnb.ReadOnlyError):
        readonly.create_tables(Shield)
    assert readonly._engine is None  # no engine, so no connection was ever opened


def test_progress_bar_only_when_asked_or_watched(
    db: dbnb.Database, capsys: pytest.CaptureFixture[str]
) -> None:
    db.write(pd.DataFrame({"id": [4], "name": ["four"]}), Item)
    assert capsys.readouterr().err == ""  # not a terminal: quiet
    db.write(pd.DataFrame({"id": [5], "name": ["five"]}), Item, progress=True)
    assert "writing items" in capsys.readouterr().err


def test_create_and_read_models(shields: dbnb.Database) -> None:
    frame = pd.DataFrame({"code": ["a", "b", "c"], "name": ["A", "B", "C"], "defense": [5, 50, 95]})
    shields.write(frame, Shield)
    strong = shields.read_models(Shield, Shield.defense > 10)
    assert [(s.code, s.defense) for s in strong] == [("b", 50), ("c", 95)]
    assert all(isinstance(s, Shield) for s in strong)
    assert [s.name for s in shields.read_models(Shield, order_by=Shield.name.desc(), limit=1)] == [
        "C"
    ]


class Fresh(SQLModel, table=True):
    __tablename__ = "write_fresh"
    id: int = Field(primary_key=True)
    label: str = Field(sa_type=String(5))
    size: int | None = Field(default=None, sa_type=Integer)


def test_create_true_makes_the_table_in_the_same_transaction(
    db: dbnb.Database, backend: str
) -> None:
    with db.session(write=True) as session:
        session.execute(text(f"DROP TABLE IF EXISTS {Fresh.__tablename__}"))
    with pytest.raises(dbnb.WriteError):  # a refused row: the new table is rolled back too
        db.write(pd.DataFrame({"id": [1, 1], "label": ["a", "b"]}), Fresh, create=True)
    if backend == "mysql":
        # MySQL commits a CREATE TABLE at once: the table stays, the rows do not.
        assert rows(db, Fresh.__tablename__) == []
        with db.session(write=True) as session:
            session.execute(text(f"DROP TABLE {Fresh.__tablename__}"))
    with pytest.raises(dbnb.DbnbError, match="has no table"):
        db.write(pd.DataFrame({"id": [1]}), Fresh.__tablename__)
    with pytest.raises(dbnb.DbnbError, match="has no table 'write_fresh'; create it"):
        db.write(pd.DataFrame({"id": [1], "label": ["a"]}), Fresh)
    assert db.write(pd.DataFrame({"id": [1], "label": ["a"]}), Fresh, create=True) == 1
    assert db.read_models(Fresh)[0].label == "a"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_upsert_survives_a_concurrent_insert_of_its_key(
    db: dbnb.Database, pg_database: str
) -> None:
    # Another transaction inserts key 9 and commits while the upsert waits on it:
    # MERGE would fail on the key; the upsert must still end with its own values.
    other = psycopg.connect(make_conninfo(PG_ADMIN, dbname=pg_database))
    other.execute("INSERT INTO items VALUES (9, 'theirs')")
    result: list[int] = []
    writer = threading.Thread(
        target=lambda: result.append(
            db.write(pd.DataFrame({"id": [1, 9], "name": ["uno", "ours"]}), Item, mode="upsert")
        )
    )
    writer.start()
    writer.join(timeout=0.5)  # the upsert now waits for the other transaction's key
    other.commit()
    other.close()
    writer.join()
    assert result == [2]
    assert rows(db) == [(1, "uno"), (2, "two"), (3, "three"), (9, "ours")]


def test_floats_and_ints_write_into_numeric_as_written(db: dbnb.Database) -> None:
    # A float is the decimal its shortest repr writes: round(x, 2) fits numeric(6, 2)
    # however its binary fraction falls (about 13% were refused when compared as floats).
    with db.session(write=True) as session:
        session.execute(text("DROP TABLE IF EXISTS scores"))
        session.execute(text("CREATE TABLE scores (id INTEGER PRIMARY KEY, score NUMERIC(6, 2))"))
    values = [round(x * 0.37, 2) for x in range(1, 2001)]  # 0.37, 0.74, 1.11, ...
    db.write(pd.DataFrame({"id": range(len(values)), "score": values}), "scores")
    db.write(pd.DataFrame({"id": [5000, 5001], "score": [8.95, 2.67]}), "scores")
    db.write(pd.DataFrame({"id": [5002, 5003], "score": [5, np.int64(-7)]}), "scores")
    back = db.query("SELECT id, score FROM scores ORDER BY id")
    written = [Decimal(str(value)) for value in back["score"]]
    expected = [Decimal(repr(value)) for value in [*values, 8.95, 2.67]] + [5, -7]
    assert written == expected
    for value, shown in ((8.951, "8.951"), (12345.6, "12345.6"), (100_000, "100000")):
        with pytest.raises(dbnb.ValidationError) as caught:
            db.write(pd.DataFrame({"id": [9], "score": [value]}), "scores")
        assert str(caught.value) == (
            f"table 'scores', row 0, column 'score', value {shown}: does not fit "
            "numeric(6, 2); nothing was written"
        )
    assert len(db.query("SELECT id FROM scores")) == len(values) + 4
