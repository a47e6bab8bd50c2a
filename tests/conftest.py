"""Fixtures for dbnb's own tests: real SQLite files and the real PostgreSQL server."""

pytest_plugins = ["tests.fixtures", "tests.magic_fixtures", "tests.spark_fixtures"]
