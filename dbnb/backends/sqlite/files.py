"""SQLite files: the folder of a new one created, a ``readonly: true`` one opened
read-only by the operating system, an in-memory database told apart."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL


def is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def sqlite_url(url: URL, *, readonly: bool) -> URL:
    """Create the file's folder; open ``readonly: true`` files read-only at the OS level."""
    database = url.database or ""
    if is_memory(url) or database.startswith("file:"):
        return url
    path = Path(database)
    if readonly:
        return url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})
    path.parent.mkdir(parents=True, exist_ok=True)
    return url
