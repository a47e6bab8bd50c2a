"""Parse once: a query's SQL text is scanned once by its database's rules, on every read
path, and each later step reads the prepared statement (``dbnb.sql.prepared``).

The scanner is counted, not replaced: ``sqlscan.tokens`` wrapped by a counter, the
queries run on the real databases. Each text is new to the run (a comment of its
own), so no cache of an earlier run hides a scan. Before parse-once the columnar
path scanned a new text twice by its database's rules (to parse it, then to check
what a read may send) and a third time for the positional rewrite when the text
was long; a one-statement cell twice (split, then parsed again by ``query``).

What is scanned besides, by design: the other readings of a database whose session
settings could read the text otherwise (PostgreSQL with backslash escapes, MariaDB's
sql_modes: ``ReadRules.alternatives``), once each where a read is checked before it
is sent; and the text the driver is sent (its own placeholders), by the engine's
allow-list, a different text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

import dbnb
from dbnb.engine.backend import backend_for
from dbnb.notebook import cells
from dbnb.sql import sqlscan
from dbnb.sql.sqlscan import LexicalRules, Token

Scans = list[tuple[str, LexicalRules]]


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> Scans:
    """Every scan from here on: the text and the rules it was read by."""
    seen: Scans = []
    scan = sqlscan.tokens

    def counted(sql: str, rules: LexicalRules) -> Iterator[Token]:
        seen.append((sql, rules))
        return scan(sql, rules)

    monkeypatch.setattr(sqlscan, "tokens", counted)
    return seen


def new_query() -> str:
    """A query no cache has seen."""
    return f"SELECT id, name FROM items WHERE id = :id /* {uuid.uuid4().hex} */"


def by_its_rules(scans: Scans, sql: str, db: dbnb.Database) -> int:
    """How often ``sql`` itself was scanned by its database's own lexical rules."""
    own = backend_for(db.config.backend).lexical_rules
    return sum(1 for text, rules in scans if text == sql and rules is own)


def alternatives(db: dbnb.Database) -> list[LexicalRules]:
    rules = backend_for(db.config.backend).read_rules
    return [] if rules is None else list(rules.alternatives)


def test_a_columnar_read_scans_its_text_once(db: dbnb.Database, scans: Scans) -> None:
    if db._arrow.columnar is None:
        pytest.skip("no columnar path here")
    sql = new_query()
    assert db.query(sql, {"id": 2})["name"].tolist() == ["two"]
    assert dbnb.history(1)["path"].tolist() == ["columnar"]
    # Once by its rules to prepare it, then each other reading once, to check what a
    # read may send; nothing else.
    own = backend_for(db.config.backend).lexical_rules
    assert [rules for text, rules in scans if text == sql] == [own, *alternatives(db)]


def test_a_guarded_read_scans_its_text_once(db: dbnb.Database, scans: Scans) -> None:
    sql = new_query()
    assert db.query(sql, {"id": 2}, max_rows=10)["name"].tolist() == ["two"]
    assert dbnb.history(1)["path"].tolist() == ["guarded"]
    assert [rules for text, rules in scans if text == sql] == [
        backend_for(db.config.backend).lexical_rules
    ]


def test_chunks_and_parquet_scan_their_text_once(
    db: dbnb.Database, scans: Scans, tmp_path: Path
) -> None:
    sql = new_query()
    assert [len(chunk) for chunk in db.query(sql, {"id": 2}, chunksize=10)] == [1]
    assert by_its_rules(scans, sql, db) == 1
    sql = new_query()
    assert db.query_to_parquet(sql, tmp_path / "one.parquet", {"id": 2}) == 1
    assert by_its_rules(scans, sql, db) == 1


@pytest_asyncio.fixture
async def adb(db: dbnb.Database) -> AsyncIterator[dbnb.Database]:
    """The `db` fixture's connection, its async pool closed in the test's own loop."""
    yield db
    await db.aclose()


@pytest.mark.asyncio
async def test_an_async_read_scans_its_text_once(adb: dbnb.Database, scans: Scans) -> None:
    sql = new_query()
    assert (await adb.aquery(sql, {"id": 2}))["name"].tolist() == ["two"]
    assert [rules for text, rules in scans if text == sql] == [
        backend_for(adb.config.backend).lexical_rules
    ]


@pytest.mark.parametrize("statements", [1, 2])
def test_a_cell_scans_its_text_once(db: dbnb.Database, scans: Scans, statements: int) -> None:
    queries = [new_query() for _ in range(statements)]
    cell = ";\n".join(queries) + ";\n"
    result = cells.run(db, cell, {"id": 2})
    assert result.statements == statements
    assert result.frame["name"].tolist() == ["two"]
    own = backend_for(db.config.backend).lexical_rules
    # The cell once; none of its statements again by these rules, whichever path ran it.
    assert [text for text, rules in scans if rules is own and text in (cell, *queries)] == [cell]
