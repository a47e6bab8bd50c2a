"""Tools for a project's developers: the pytest plugin (``testing``), Alembic migrations
(``migrate``), a local PostgreSQL server (``pgserver``) and the demo (``demo``).
"""
