"""Completion as a notebook front end gets it: a real IPython kernel's complete_request."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

SETUP = """
%load_ext dbnb
%db use sqlite
region_wanted = "EU"
"""
TABLES = """%%db --write
DROP TABLE IF EXISTS k_orders;
CREATE TABLE k_orders (id INTEGER PRIMARY KEY, region TEXT, total REAL);
"""


@pytest.fixture
def kernel(config_path: Path) -> Iterator[BlockingKernelClient]:
    """A kernel of this interpreter, its config the test's, with dbnb loaded."""
    manager = KernelManager(kernel_name="python3")
    env = {**os.environ, "DBNB_CONFIG": str(config_path)}
    manager.start_kernel(env=env, cwd=str(config_path.parent))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        for code in (SETUP, TABLES):
            reply = client.execute_interactive(code, timeout=60, output_hook=lambda _: None)
            assert reply["content"]["status"] == "ok", reply["content"]
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def complete(client: BlockingKernelClient, code: str, cursor: int | None = None) -> dict[str, Any]:
    """The kernel's complete_reply content for ``code`` with the cursor at ``cursor``."""
    message_id = client.complete(code, len(code) if cursor is None else cursor)
    while True:
        reply = client.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == message_id:
            content: dict[str, Any] = reply["content"]
            assert content["status"] == "ok"
            return content


def test_a_kernel_completes_every_context(kernel: BlockingKernelClient) -> None:
    subcommands = complete(kernel, "%db des")
    assert subcommands["matches"] == ["describe"]
    assert (subcommands["cursor_start"], subcommands["cursor_end"]) == (4, 7)
    assert complete(kernel, "%db use sqlite")["matches"] == ["sqlite", "sqlite_ro"]
    assert "postgresql" in complete(kernel, "%%db ")["matches"]
    # The first request after the DDL answers within its budget with what is cached
    # (maybe nothing yet); the schema read goes on in the background.
    deadline = time.monotonic() + 10
    while not (tables := complete(kernel, "%%db sqlite\nSELECT * FROM k_o"))["matches"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert tables["matches"] == ["k_orders"]
    assert tables["cursor_start"] == len("%%db sqlite\nSELECT * FROM ")
    assert complete(kernel, "%db describe k_")["matches"] == ["k_orders"]
    code = "%db SELECT o. FROM k_orders o"
    assert complete(kernel, code, code.index("o.") + 2)["matches"] == ["id", "region", "total"]
    code = "%%db\nSELECT  FROM k_orders"
    assert complete(kernel, code, code.index("SELECT ") + 7)["matches"] == [
        "id",
        "region",
        "total",
    ]
    assert complete(kernel, "%db SELECT * FROM k_orders WHERE region = :region_w")["matches"] == [
        "region_wanted"
    ]
