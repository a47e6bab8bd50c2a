"""Exports are written whole or not at all, through a fresh hidden file.

The hidden file once had a fixed name, ``.NAME.partial``, opened by name: a link
planted there made an export overwrite the file it pointed to (dbnb issue #22).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dbnb
from dbnb.read import parquet
from dbnb.see import exports

FRAME = pd.DataFrame({"id": [1, 2, 3], "name": ["one", "two", "three"]})


def plant_link(target: Path) -> Path:
    """A victim file, and a link to it at the name the hidden file used to have."""
    victim = target.parent.parent / "victim.txt"
    victim.write_text("precious\n")
    (target.parent / f".{target.name}.partial").symlink_to(victim)
    return victim


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("name", "export"),
    [
        ("frame.csv", exports.to_csv),
        ("frame.parquet", exports.to_parquet),
        ("tables.parquet", lambda frame, path: parquet.write([pa.Table.from_pandas(frame)], path)),
    ],
)
def test_a_link_at_the_old_hidden_name_is_never_followed(
    out: Path, name: str, export: object
) -> None:
    target = out / name
    victim = plant_link(target)
    assert export(FRAME, target) == 3  # type: ignore[operator]
    assert victim.read_text() == "precious\n"
    assert (out / f".{name}.partial").is_symlink()  # left as it was
    assert sorted(p.name for p in out.iterdir()) == sorted([name, f".{name}.partial"])
    if name.endswith(".csv"):
        assert target.read_text() == "id,name\n1,one\n2,two\n3,three\n"
    else:
        assert pq.read_table(target).column("name").to_pylist() == ["one", "two", "three"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_query_to_parquet_never_follows_the_link(db: dbnb.Database, out: Path) -> None:
    target = out / "items.parquet"
    victim = plant_link(target)
    assert db.query_to_parquet("SELECT * FROM items ORDER BY id", target) == 3
    assert victim.read_text() == "precious\n"
    assert pq.read_table(target).column("name").to_pylist() == ["one", "two", "three"]


def test_an_export_gets_a_plain_new_files_permissions(out: Path) -> None:
    """Not the hidden file's own 0600: the file is shared like any the user writes."""
    umask = os.umask(0o022)
    os.umask(umask)
    exports.to_csv(FRAME, out / "a.csv")
    parquet.write([pa.Table.from_pandas(FRAME)], out / "a.parquet")
    assert (out / "a.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (out / "a.parquet").stat().st_mode & 0o777 == 0o666 & ~umask


def chunks_then(error: BaseException) -> Iterator[pa.Table]:
    """Two chunks of a result, then the failure a driver raises mid-stream."""
    yield pa.table({"n": [1, 2]})
    yield pa.table({"n": [3, 4]})
    raise error


@pytest.mark.parametrize(
    "error", [dbnb.QueryError("the server went away"), KeyboardInterrupt(), MemoryError()]
)
def test_a_failure_mid_stream_leaves_no_hidden_file_and_the_old_file(
    out: Path, error: BaseException
) -> None:
    target = out / "result.parquet"
    pq.write_table(pa.table({"old": [1]}), target)
    with pytest.raises(type(error)):
        parquet.write(chunks_then(error), target)
    assert pq.read_table(target).column_names == ["old"]
    assert [p.name for p in out.iterdir()] == ["result.parquet"]


def test_a_later_chunk_that_does_not_fit_leaves_nothing(out: Path) -> None:
    target = out / "result.parquet"
    tables = [pa.table({"n": [1, 2]}), pa.table({"n": [[1], [2]]})]
    with pytest.raises(dbnb.DbnbError, match="a later chunk's columns do not fit"):
        parquet.write(tables, target)
    assert list(out.iterdir()) == []


class Unwritable:
    """A value whose text cannot be made: the CSV writer fails on it, mid-file."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __str__(self) -> str:
        raise self.error


@pytest.mark.parametrize("error", [ValueError("no text for this"), KeyboardInterrupt()])
def test_a_csv_that_fails_mid_file_leaves_no_hidden_file_and_the_old_file(
    out: Path, error: BaseException
) -> None:
    target = out / "result.csv"
    target.write_text("older,file\n")
    frame = pd.DataFrame({"v": ["fine"] * 100_000 + [Unwritable(error)]})
    with pytest.raises(type(error)):
        exports.to_csv(frame, target)
    assert target.read_text() == "older,file\n"
    assert [p.name for p in out.iterdir()] == ["result.csv"]


def test_a_missing_folder_is_one_line_naming_the_file(out: Path) -> None:
    target = out / "missing" / "result.csv"
    with pytest.raises(dbnb.DbnbError, match=r"^cannot write .*missing/result.csv: "):
        exports.to_csv(FRAME, target)
    assert list(out.iterdir()) == []
