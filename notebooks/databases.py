"""The databases the example notebooks run against: their own, every run.

The notebooks use the project's ``etc/infra.yaml``, whose PostgreSQL connections
read ``${PGDATABASE:-test}`` and whose SQLite one reads
``${LOCAL_DATABASE:-data/app.db}``. ``notebooks/build.py`` and the nbval run
(``conftest.py``) point those at a PostgreSQL database created for the run and
dropped after it, and at ``etc/data/notebooks.db``, made anew: the notebooks
start from nothing whatever a user (or ``make demo``) keeps in ``etc/data/app.db``,
and two runs on one server never share a table. ``notebooks/sanitize.cfg``
masks the run's database name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dbnb import DbnbError

from dbnb.devtools import testing

SQLITE = Path(__file__).resolve().parent.parent / "etc" / "data" / "notebooks.db"


@contextmanager
def own_databases(postgresql: bool = True) -> Iterator[None]:
    """Point the notebooks' connections at databases of this run's own; the PostgreSQL
    one only if ``postgresql`` (a run of SQLite tests alone reaches no server)."""
    with ExitStack() as stack:
        SQLITE.unlink(missing_ok=True)
        os.environ["LOCAL_DATABASE"] = f"data/{SQLITE.name}"
        admin = os.environ.get("DBNB_TEST_PG", testing.DEFAULT_PG_ADMIN_URL)
        try:
            if postgresql:
                name = stack.enter_context(testing.throwaway_pg_database(admin, prefix="dbnb_nb"))
                os.environ["PGDATABASE"] = name  # kernels started from here inherit it
        except DbnbError:
            if os.environ.get("CI"):
                raise  # CI has the server: a missing one is a failure
        # jupysql imports pyspark when it is installed (the dev extra has the full
        # pyspark, for the Spark tests' server), and pyspark then warns on stderr that it
        # was not tested with pandas 3; the saved outputs are a user's without pyspark.
        quiet = "ignore:PySpark does not yet fully support pandas:FutureWarning"
        os.environ["PYTHONWARNINGS"] = ",".join(
            filter(None, [os.environ.get("PYTHONWARNINGS"), quiet])
        )
        yield
