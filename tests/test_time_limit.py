"""The suite's own per-test time limit (pyproject.toml's pytest ``timeout``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

SAMPLE = """
import time

import pytest


@pytest.fixture
def teardown_mark(tmp_path_factory):
    yield
    (tmp_path_factory.getbasetemp().parent / "torn-down").write_text("yes")


def test_1_stalls(teardown_mark):
    time.sleep(60)


def test_2_still_runs():
    pass
"""


@pytest.mark.slow
def test_a_stalled_test_fails_and_the_run_goes_on(tmp_path: Path) -> None:
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < settings["timeout"] <= 600
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    command += ["--timeout", "1", "-o", f"timeout_method={settings['timeout_method']}"]
    command += ["--basetemp", str(tmp_path / "base"), str(tmp_path / "test_sample.py")]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert "Timeout (>1.0s)" in done.stdout, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout  # the run went on
    assert (tmp_path / "torn-down").read_text() == "yes"  # and the fixture tore down
