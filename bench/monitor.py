"""What query monitoring costs: statements per second with and without it, and history().

    .venv/bin/python -m bench.monitor [STATEMENTS]

Runs the same small statement many times on one connection of each engine
(SQLite file, PostgreSQL at $DBNB_TEST_PG's server), with dbnb's read-only
guards on both and monitoring on one, and prints the ratio. Then times
building ``dbnb.history()`` from a full history of 1000 records.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import text

from dbnb.backends.registry import backend_for
from dbnb.config import url_connection
from dbnb.engine import monitor, readonly

PG = os.environ.get("DBNB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def rate(engine: sqlalchemy.Engine, statements: int) -> float:
    statement = text("SELECT :n AS n")
    with engine.connect() as connection:
        with connection.begin():
            for n in range(200):  # warm up
                connection.execute(statement, {"n": n}).all()
        started = time.perf_counter()
        with connection.begin():
            for n in range(statements):
                connection.execute(statement, {"n": n}).all()
        return statements / (time.perf_counter() - started)


def compare(name: str, url: str, statements: int) -> None:
    config = url_connection(name, url)
    rates = {}
    for monitored in (False, True):
        engine = sqlalchemy.create_engine(config.url)
        if monitored:
            monitor.install(engine, config, into=monitor.History(1000))
        readonly.install(engine, backend_for(config.backend), connection_name=name)
        rates[monitored] = rate(engine, statements)
        engine.dispose()
    print(
        f"{name:>10}: {rates[False]:>8.0f} statements/s without monitoring, "
        f"{rates[True]:>8.0f} with: {rates[True] / rates[False]:.2f}x "
        f"({(1 / rates[True] - 1 / rates[False]) * 1e6:+.1f} us per statement)"
    )


def history_frame() -> None:
    history = monitor.History(1000)
    config = url_connection("bench", "sqlite://")
    engine = sqlalchemy.create_engine(config.url)
    monitor.install(engine, config, into=history)
    with engine.connect() as connection:
        for n in range(1000):
            connection.execute(text("SELECT :n"), {"n": n})
    started = time.perf_counter()
    frame = history.frame()
    elapsed = time.perf_counter() - started
    print(f"   history: {len(frame)} records into a DataFrame in {elapsed * 1000:.1f} ms")


def main(statements: int = 5000) -> None:
    with tempfile.TemporaryDirectory() as folder:
        compare("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", statements)
    compare("postgresql", PG, statements)
    history_frame()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
