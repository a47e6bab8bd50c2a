"""A local Spark Connect server for the test run, from the installed ``pyspark``.

It starts once per run, on a free port, with ``local-cluster[2,1,1024]`` (two
executor JVMs, as a real cluster runs them; ``DBNB_TEST_SPARK_MASTER`` overrides),
and stops at the end. Without Java 17 or pyspark it fails under CI and skips
elsewhere, saying what is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MASTER = os.environ.get("DBNB_TEST_SPARK_MASTER", "local-cluster[2,1,1024]")
START_TIMEOUT = 180  # seconds: two cores, and the JVMs of a driver and two executors


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Spark tests cannot run: {reason}")
    pytest.skip(f"Spark tests skipped: {reason}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server started for this run."""
    if shutil.which("java") is None:
        _unavailable("no java on PATH (apt-get install openjdk-17-jre-headless)")
    try:
        import pyspark
    except ImportError:
        _unavailable("pyspark is not installed (pip install -e '.[dev]')")
    home = Path(pyspark.__file__).parent
    script = home / "sbin" / "start-connect-server.sh"
    if not script.is_file():
        _unavailable(f"{script} is missing: the full pyspark, not pyspark-client, ships it")
    work = tmp_path_factory.mktemp("spark")
    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_PID_DIR": str(work),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    command = [
        str(script),
        "--wait",  # in the foreground: this fixture owns the process and stops it
        "--master",
        MASTER,
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        f"spark.sql.warehouse.dir={work / 'warehouse'}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        "spark.executor.memory=768m",
    ]
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (work / "server.log").read_text(errors="replace")[-2000:]
                _unavailable(f"the Spark Connect server did not start: {tail}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the script's JVM and its executors
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
