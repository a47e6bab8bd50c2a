"""The example notebooks run against databases of their own (``notebooks/databases.py``)."""

from __future__ import annotations

import importlib.util
from contextlib import ExitStack
from pathlib import Path

import pytest

_RUN = ExitStack()
_DATABASES = Path(__file__).resolve().parent / "notebooks" / "databases.py"


def pytest_sessionstart(session: pytest.Session) -> None:
    spec = importlib.util.spec_from_file_location("notebook_databases", _DATABASES)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _RUN.enter_context(module.own_databases())


def pytest_sessionfinish(session: pytest.Session) -> None:
    _RUN.close()
