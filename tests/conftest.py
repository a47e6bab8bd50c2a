"""Fixtures for dbnb's own tests: real SQLite files and the real PostgreSQL server."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures", "tests.magic_fixtures", "tests.spark_fixtures"]
