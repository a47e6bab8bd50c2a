"""The example notebooks run against databases of their own (``notebooks/databases.py``).

Their cells (``--nbval``) are marked postgresql and slow here (the tiers: tests/conftest.py):
they run on the project's config, PostgreSQL included, in a kernel each.
"""

from __future__ import annotations

import importlib.util
from contextlib import ExitStack
from pathlib import Path

import pytest

_RUN = ExitStack()
_DATABASES = Path(__file__).resolve().parent / "notebooks" / "databases.py"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    notebooks = _DATABASES.parent
    for item in items:
        if item.path.is_relative_to(notebooks):
            item.add_marker("postgresql")
            item.add_marker("slow")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the run's tests are chosen: its PostgreSQL database only if one needs a server."""
    postgresql = any(item.get_closest_marker("postgresql") for item in session.items)
    spec = importlib.util.spec_from_file_location("notebook_databases", _DATABASES)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _RUN.enter_context(module.own_databases(postgresql))


def pytest_sessionfinish(session: pytest.Session) -> None:
    _RUN.close()
