"""The demo that `make demo` runs: a sample database on the embedded SQLite default.

It creates `demo_shield` from a SQLModel class, adds its sample rows in a write
session, queries the table through a pooled read-only session with a bound
parameter, and shows that a write through the read-only path is refused by
SQLite itself.

The demo keeps to a table of its own, so it never meets the user's tables (the
manual's `Shield` example makes a `shield` table in the same file), and it
only adds the sample rows that are missing: rows the user added or changed stay
as they are, and running it again changes nothing. A `demo_shield` table of
another shape is refused with one line, before anything is written.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pandas as pd
from sqlmodel import Field, SQLModel, col, select

import dbnb
from dbnb.connections import inspect
from dbnb.connections.facade import Facade

TABLE = "demo_shield"


class DemoShield(SQLModel, table=True):
    __tablename__ = TABLE
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    defense_rating: int
    enchanted: bool | None = None
    forged_at: datetime | None = None


SAMPLE = [
    DemoShield(
        name="Dragon Scale",
        defense_rating=95,
        enchanted=True,
        forged_at=datetime(2021, 3, 1, 9, 30, tzinfo=UTC),
    ),
    DemoShield(
        name="Oak Buckler",
        defense_rating=20,
        enchanted=False,
        forged_at=datetime(2023, 7, 14, 17, 5, tzinfo=UTC),
    ),
    DemoShield(name="Tower Shield", defense_rating=70, enchanted=None, forged_at=None),
]


def prepare(db: Facade) -> None:
    """Create the demo's table if it is missing and add the sample rows it lacks."""
    if TABLE in set(inspect.tables(db)["table"]):
        found = list(inspect.describe(db, TABLE)["column"])
        missing = [name for name in DemoShield.model_fields if name not in found]
        if missing:
            raise dbnb.DbnbError(
                f"{db.name}: table {TABLE!r} exists with other columns ({', '.join(found)}; "
                f"the demo needs {', '.join(missing)} too); drop it, or run the demo on "
                "another connection: dbnb demo NAME"
            )
    db.create_tables(DemoShield)
    with db.session(write=True) as session:
        present = set(session.exec(select(DemoShield.name)).all())
        session.add_all(
            DemoShield.model_validate(shield) for shield in SAMPLE if shield.name not in present
        )


def show(db: Facade) -> None:
    """Read the table back, typed, and watch the read-only path refuse a write."""
    frame = db.query(
        f"SELECT name, defense_rating, enchanted FROM {TABLE} WHERE defense_rating >= :minimum "
        "ORDER BY defense_rating DESC",
        {"minimum": 50},
    )
    with pd.option_context("display.width", 120):
        print(frame, end="\n\n")

    # A select() of the model keeps its declared types, even on SQLite.
    typed = db.query(select(DemoShield).order_by(col(DemoShield.forged_at)))
    print(typed.dtypes, end="\n\n")

    try:
        db.query(f"DELETE FROM {TABLE}")
    except dbnb.ReadOnlyError as error:
        print(f"refused, as it should be: {error}")
    remaining = db.query(f"SELECT count(*) AS shields FROM {TABLE}")["shields"].iloc[0]
    print(f"shields still there: {remaining}")


def main(connection: str | None = None) -> int:
    try:
        db = dbnb.connect(connection)
        print(f"connection: {db!r}")
        prepare(db)
        show(db)
    except dbnb.DbnbError as error:
        print(f"dbnb: error: {error}", file=sys.stderr)
        return 1
    finally:
        dbnb.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
