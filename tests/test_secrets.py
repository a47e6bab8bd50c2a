"""No secret ever shows: every public surface, driven with a known password, then scanned.

The PostgreSQL connections of the test config take their password from
$DBNB_TEST_SECRET (the server trusts local connections, so any password
works). Everything the surfaces produce is collected, output, log records,
warnings, errors with their tracebacks, reprs, frames, and searched for it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import dbnb
from tests.fixtures import SECRET, config_text
from tests.magic_fixtures import db as run


def shown(value: Any) -> str:
    """What a person could see of a value: its repr and str, or a frame's full text."""
    if isinstance(value, pd.DataFrame):
        with pd.option_context("display.max_colwidth", None, "display.width", 10_000):
            return value.to_string() + repr(value.attrs)
    if isinstance(value, BaseException):
        return "".join(traceback.format_exception(value)) + repr(value)
    return repr(value) + str(value)


@pytest.fixture
def secret_config(tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DBNB_TEST_SECRET", SECRET)
    path = tmp_path / "secret" / "etc" / "infra.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        config_text(
            tmp_path,
            pg_database,
            down=f"type: postgresql\nhost: 127.0.0.1\nport: 1\nuser: me\npassword: {SECRET}\n"
            "connect_args: {connect_timeout: 2}",
            leaky=f"url: postgresql://postgres:{SECRET}@127.0.0.1/{pg_database}\n"
            "log_parameters: true\nslow_query_ms: 0",
        )
    )
    monkeypatch.setenv("DBNB_CONFIG", str(path))
    return path


def drive_library(config: Path) -> list[Any]:
    """Every library surface, good paths and bad; what each returned or raised."""
    produced: list[Any] = []

    def attempt(action: Callable[[], Any]) -> None:
        try:
            produced.append(action())
        except Exception as error:  # every error is scanned, with its traceback
            produced.append(error)

    registry = dbnb.Registry(dbnb.load_config(config))
    produced += [registry, registry.config, dbnb.load_config(config).connections]
    for name in ("postgresql", "postgresql_ro", "leaky", "down"):
        db = registry.connect(name)
        produced += [db, db.config, db.config.safe_url]
        attempt(lambda db=db: db.engine)
        attempt(lambda db=db: db.query("SELECT current_user AS who, :p AS p", {"p": "x"}))
        attempt(lambda db=db: db.query("SELEC 1"))
        attempt(lambda db=db: db.query("CREATE TABLE leak (x int)"))
        attempt(lambda db=db: db.query("SELECT pg_sleep(1)", timeout=0.05))
        attempt(lambda db=db: db.write(pd.DataFrame({"x": [1]}), "no_such_table"))
        attempt(lambda db=db: db.health())
        attempt(lambda db=db: db.health().as_frame())
        attempt(lambda db=db: dbnb.tables(db))
    attempt(lambda: dbnb.history())
    attempt(lambda: registry.connect(f"postgresql://postgres:{SECRET}@127.0.0.1:1/x").query("x"))
    attempt(
        lambda: dbnb.parse_config(
            "databases:\n  a:\n    type: postgresql\n    port: ${P}\n", environ={"P": SECRET}
        )
    )
    registry.close()
    return produced


def test_library_surfaces_never_show_the_password(
    secret_config: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level: sqlalchemy's and dbnb's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        produced = drive_library(secret_config)
    output = capsys.readouterr()
    texts = [shown(value) for value in produced]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(warning.message) for warning in caught]
    texts += [output.out, output.err]
    assert len(produced) > 40  # the surfaces really ran
    assert any("***" in text for text in texts)  # and masked where they name the URL
    leaks = [text[:200] for text in texts if SECRET in text]
    assert leaks == []


def test_magics_never_show_the_password(
    ip: InteractiveShell,
    secret_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ip.run_line_magic("unload_ext", "dbnb")  # load again, on the config with the password
    monkeypatch.setenv("DBNB_CONFIG", str(secret_config))
    ip.run_line_magic("load_ext", "dbnb")
    produced: list[Any] = []
    for line in (
        "",
        "use leaky",
        "SELECT current_user AS who",
        "tables",
        "health",
        "history",
        "use down",
        "SELECT 1",
        "health down",
        "use postgresql_ro",
        "CREATE TABLE leak (x int)",
    ):
        try:
            produced.append(run(ip, line))
        except Exception as error:
            produced.append(error)
    output = capsys.readouterr()
    assert isinstance(produced[2], pd.DataFrame)  # the password-bearing connection answered
    assert produced[2]["who"].tolist() == ["postgres"]
    texts = [shown(value) for value in produced] + [output.out, output.err]
    assert [text[:200] for text in texts if SECRET in text] == []


def test_command_line_never_shows_the_password(secret_config: Path) -> None:
    env = {**os.environ, "DBNB_CONFIG": str(secret_config), "DBNB_TEST_SECRET": SECRET}
    commands = [
        ["list"],
        ["health"],
        ["query", "leaky", "SELECT current_user AS who", "--format", "json"],
        ["query", "down", "SELECT 1"],
        ["tables", "leaky"],
    ]
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "dbnb", *command],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert SECRET not in done.stdout + done.stderr, command
