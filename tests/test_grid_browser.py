"""The explore grid in a real browser (issue 26): JupyterLab started by the test, a
notebook that calls ``db.explore(...)``, driven by headless Chromium (Debian's
``chromium`` and ``chromium-driver``, which ``.ci/run`` installs) through selenium.
The grid shows, the next-page button changes the rows, a header click sorts, a filter
narrows the count. A screenshot of the grid is left in the test's folder."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a JupyterLab server, a kernel and a browser of its own

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 120  # seconds: JupyterLab's first load and a kernel's start on a busy machine
ROWS = 95


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run: {reason}")
    pytest.skip(f"the browser test is skipped: {reason}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on a folder holding a SQLite database, its config and a
    notebook exploring it; its URL and that folder."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not Path(program).exists():
            _unavailable(f"{program} is missing (apt-get install chromium chromium-driver)")
    with sqlite3.connect(tmp_path / "shop.db") as connection:
        connection.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount INTEGER)"
        )
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(i, "EU" if i % 3 else "US", (i * 37) % 101) for i in range(1, ROWS + 1)],
        )
    (tmp_path / "infra.yaml").write_text(
        f"databases:\n  shop:\n    type: sqlite\n    database: {tmp_path / 'shop.db'}\n"
    )
    cells = ["import dbnb\ndb = dbnb.connect('shop')", "db.explore('orders', page_size=10)"]
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": cell, "outputs": [],
             "execution_count": None}
            for cell in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    (tmp_path / "grid.ipynb").write_text(json.dumps(notebook))
    port, token = _free_port(), secrets.token_hex(16)
    jupyter = tmp_path / "jupyter"
    env = {
        **os.environ,
        "DBNB_CONFIG": str(tmp_path / "infra.yaml"),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run the cells
    ]  # fmt: skip
    log = (tmp_path / "lab.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()}")
                time.sleep(0.5)
        yield f"{url}/lab/tree/grid.ipynb?token={token}", tmp_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(argument)  # fmt: skip
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium", ignore_errors=True)


def test_the_grid_pages_sorts_and_filters_in_jupyterlab(
    lab: tuple[str, Path], browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, folder = lab
    wait = WebDriverWait(browser, WAIT, poll_frequency=0.2)
    browser.get(url)
    wait.until(lambda b: b.execute_script(
        "const app = window.jupyterapp;"
        "return !!app && !!app.shell.currentWidget && !!app.shell.currentWidget.sessionContext"
        " && !!app.shell.currentWidget.sessionContext.session"
        " && app.shell.currentWidget.sessionContext.session.kernel !== null"
    ))  # fmt: skip
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def grid_ids(driver: Any) -> list[int]:
        cells = driver.find_elements(By.CSS_SELECTOR, ".dbnb-table tbody tr td:first-child")
        try:
            return [int(cell.text) for cell in cells]
        except StaleElementReferenceException:  # the page changed as it was read
            return []

    def count_text(driver: Any) -> str:
        found = driver.find_elements(By.CSS_SELECTOR, ".dbnb-count")
        return str(found[0].text) if found else ""

    wait.until(lambda b: grid_ids(b) == list(range(1, 11)))
    wait.until(lambda b: count_text(b) == f"{ROWS} rows")
    assert browser.find_element(By.CSS_SELECTOR, ".dbnb-position").text == "page 1 of 10"

    browser.find_element(By.CSS_SELECTOR, ".dbnb-next").click()
    wait.until(lambda b: grid_ids(b) == list(range(11, 21)))

    amounts = sorted(((i * 37) % 101, i) for i in range(1, ROWS + 1))
    header = browser.find_element(By.CSS_SELECTOR, "th[data-column='amount'] .dbnb-name")
    header.click()  # sorts ascending, back to the first page
    wait.until(lambda b: grid_ids(b) == [i for _, i in amounts[:10]])
    browser.find_element(By.CSS_SELECTOR, "th[data-column='amount'] .dbnb-name").click()
    wait.until(lambda b: grid_ids(b) == [i for _, i in sorted(amounts, reverse=True)[:10]])

    typed = browser.find_element(By.CSS_SELECTOR, "input.dbnb-filter[data-column='region']")
    typed.send_keys("us", Keys.ENTER)  # contains, any case
    us = [i for i in range(1, ROWS + 1) if i % 3 == 0]
    wait.until(lambda b: count_text(b) == f"{len(us)} rows")
    assert set(grid_ids(browser)) <= set(us)
    browser.find_element(By.CSS_SELECTOR, "th[data-column='amount'] .dbnb-about").click()
    us_amounts = [(i * 37) % 101 for i in us]
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, ".dbnb-summary").text.startswith(
        f"amount: rows: {len(us)} · nulls: 0 · distinct: {len(set(us_amounts))} · "
        f"min: {min(us_amounts)} · max: {max(us_amounts)}"
    ))  # fmt: skip
    grid = browser.find_element(By.CSS_SELECTOR, ".dbnb-grid")
    grid.screenshot(str(folder / "grid.png"))
    assert (folder / "grid.png").stat().st_size > 5_000
