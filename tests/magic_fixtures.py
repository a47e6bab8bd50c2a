"""A real IPython shell with ``%load_ext dbnb``, configured by a config in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.testing.globalipapp import start_ipython


@pytest.fixture
def ip(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The test shell with dbnb loaded through %load_ext; its variables are reset after."""
    monkeypatch.setenv("DBNB_CONFIG", str(config_path))
    start_ipython()  # once per process: the test-friendly global shell
    shell = TerminalInteractiveShell.instance()
    before = set(shell.user_ns)
    shell.run_line_magic("load_ext", "dbnb")
    yield shell
    shell.run_line_magic("unload_ext", "dbnb")
    shell.config.pop("DbMagics", None)  # %config DbMagics.display_limit = ... of a test
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def db(shell: InteractiveShell, line: str, cell: str | None = None) -> Any:
    """Run ``%db line`` or ``%%db line`` + cell, raising what the magic raises."""
    if cell is None:
        return shell.run_line_magic("db", line)
    return shell.run_cell_magic("db", line, cell)
