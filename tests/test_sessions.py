"""Write sessions commit on success and roll back on any error; read sessions never commit."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

import dbnb
from tests.fixtures import Item, rows

ORIGINAL = [(1, "one"), (2, "two"), (3, "three")]


def test_write_session_commits(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        session.add(Item(id=4, name="four"))
        session.execute(text("UPDATE items SET name = 'uno' WHERE id = 1"))
    assert rows(db) == [(1, "uno"), (2, "two"), (3, "three"), (4, "four")]


def test_write_session_rolls_back_on_any_error(db: dbnb.Database) -> None:
    with pytest.raises(ZeroDivisionError), db.session(write=True) as session:
        session.add(Item(id=4, name="four"))
        session.execute(text("DELETE FROM items WHERE id = 1"))
        session.flush()
        _ = 1 / 0
    assert rows(db) == ORIGINAL
    assert db.engine.pool.checkedout() == 0


def test_write_session_rolls_back_on_database_error(db: dbnb.Database) -> None:
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.session(write=True) as session:
        session.execute(text("DELETE FROM items WHERE id = 3"))
        session.add(Item(id=1, name="clash"))
        session.flush()
    assert rows(db) == ORIGINAL


def test_objects_stay_usable_after_the_block(db: dbnb.Database) -> None:
    with db.session(write=True) as session:
        item = Item(id=4, name="four")
        session.add(item)
    assert (item.id, item.name) == (4, "four")  # no refresh needed: not expired on commit


def test_read_session_runs_orm_queries(db: dbnb.Database) -> None:
    with db.session() as session:
        names = session.exec(select(Item.name).where(Item.id > 1).order_by(Item.id)).all()
    assert names == ["two", "three"]


def test_read_session_commit_writes_nothing(db: dbnb.Database) -> None:
    with pytest.raises(dbnb.ReadOnlyError), db.session() as session:
        session.add(Item(id=4, name="four"))
        session.commit()
    assert rows(db) == ORIGINAL
