"""The example notebooks never show a password, in their saved outputs or when run afresh.

`make test` also runs them under nbval, which compares fresh outputs with the
saved ones; here they run once more with a password in the environment that the
project's config reads (`password: ${PGPASSWORD:-}`), to prove it never shows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import dbnb
from tests.fixtures import SECRET

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = ROOT / "etc" / "infra.yaml"


def passwords(environ: dict[str, str]) -> set[str]:
    """Every password the project's config resolves to under ``environ``."""
    config = dbnb.load_config(CONFIG, environ=environ)
    found = {entry.url.password for entry in config.connections.values()}
    return {str(password) for password in found if password}


def outputs(notebook: nbformat.NotebookNode) -> str:
    """All outputs of a notebook as text, error messages and tracebacks included."""
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_saved_outputs_hold_no_password(path: Path) -> None:
    secrets = passwords({**os.environ, "PGPASSWORD": SECRET}) | passwords(dict(os.environ))
    assert SECRET in secrets
    saved = outputs(nbformat.read(path, as_version=4))
    assert saved.count('"output_type"') > 3  # the outputs are saved in the file
    for secret in secrets:
        assert secret not in saved


@pytest.mark.postgresql
@pytest.mark.slow
def test_fresh_outputs_hold_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", SECRET)  # the server trusts us; the config still reads it
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")
    assert passwords(dict(os.environ)) == {SECRET}
    shown = ""
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()  # fails on any error in a cell not tagged raises-exception
        shown += outputs(notebook)
    assert "postgres:***@" in shown  # the password was there, and masked
    assert SECRET not in shown
