"""The demo that `make demo` runs: a sample database on the embedded SQLite default.

It creates `shield` from a SQLModel class in a write session, queries it
through a pooled read-only session with a bound parameter, and shows that a
write through the read-only path is refused by SQLite itself.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pandas as pd
from sqlmodel import Field, SQLModel, col, delete, select

import dbnb


class Shield(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    defense_rating: int
    enchanted: bool | None = None
    forged_at: datetime | None = None


SAMPLE = [
    Shield(
        name="Dragon Scale",
        defense_rating=95,
        enchanted=True,
        forged_at=datetime(2021, 3, 1, 9, 30, tzinfo=UTC),
    ),
    Shield(
        name="Oak Buckler",
        defense_rating=20,
        enchanted=False,
        forged_at=datetime(2023, 7, 14, 17, 5, tzinfo=UTC),
    ),
    Shield(name="Tower Shield", defense_rating=70, enchanted=None, forged_at=None),
]


def main(connection: str | None = None) -> int:
    db = dbnb.connect(connection)
    print(f"connection: {db!r}")

    with db.session(write=True) as session:
        SQLModel.metadata.create_all(
            session.connection(), tables=[SQLModel.metadata.tables["shield"]]
        )
        session.execute(delete(Shield))
        session.add_all(Shield.model_validate(shield) for shield in SAMPLE)

    frame = db.query(
        "SELECT name, defense_rating, enchanted FROM shield WHERE defense_rating >= :minimum "
        "ORDER BY defense_rating DESC",
        {"minimum": 50},
    )
    with pd.option_context("display.width", 120):
        print(frame, end="\n\n")

    # A select() of the model keeps its declared types, even on SQLite.
    typed = db.query(select(Shield).order_by(col(Shield.forged_at)))
    print(typed.dtypes, end="\n\n")

    try:
        db.query("DELETE FROM shield")
    except dbnb.ReadOnlyError as error:
        print(f"refused, as it should be: {error}")
    remaining = db.query("SELECT count(*) AS shields FROM shield")["shields"].iloc[0]
    print(f"shields still there: {remaining}")
    dbnb.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
