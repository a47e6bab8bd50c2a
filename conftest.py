"""The example notebooks get a PostgreSQL database of their own for each run.

nbval runs ``notebooks/*.ipynb`` against the project's ``etc/infra.yaml``, whose
PostgreSQL connections read ``${PGDATABASE:-test}``. A database created for the
run (and dropped after it) keeps their tables apart from any other run of the
suite on the same server.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest

from dbnb import DbnbError, testing

_RUN = ExitStack()


def pytest_sessionstart(session: pytest.Session) -> None:
    admin = os.environ.get("DBNB_TEST_PG", testing.DEFAULT_PG_ADMIN_URL)
    try:
        name = _RUN.enter_context(testing.throwaway_pg_database(admin, prefix="dbnb_nb"))
    except DbnbError:
        if os.environ.get("CI"):
            raise  # CI has the server: a missing one is a failure
        return  # the PostgreSQL tests skip and say why; notebooks need it anyway
    os.environ["PGDATABASE"] = name  # kernels started from here inherit it


def pytest_sessionfinish(session: pytest.Session) -> None:
    _RUN.close()
