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
from contextlib import ExitStack, contextmanager
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


class Unavailable(Exception):
    """Spark cannot run here: no Java, no full pyspark, or the server did not start."""


@contextmanager
def local_server(work: Path, master: str = MASTER) -> Iterator[str]:
    """A Spark Connect server on a free port, files in ``work``, stopped at the end:
    ``sc://127.0.0.1:PORT``. Also what ``bench/spark.py`` reads from."""
    if shutil.which("java") is None:
        raise Unavailable("no java on PATH (apt-get install openjdk-17-jre-headless)")
    try:
        import pyspark
    except ImportError:
        raise Unavailable("pyspark is not installed (pip install -e '.[dev]')") from None
    home = Path(pyspark.__file__).parent
    script = home / "sbin" / "start-connect-server.sh"
    if not script.is_file():
        raise Unavailable(f"{script} is missing: the full pyspark, not pyspark-client, ships it")
    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_PID_DIR": str(work),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    settings = {
        "spark.connect.grpc.binding.port": port,
        "spark.sql.warehouse.dir": work / "warehouse",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": 2,
        "spark.executor.memory": "768m",
    }
    # --wait: in the foreground, so this process owns the server and stops it.
    command = [str(script), "--wait", "--master", master]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _listening(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise Unavailable(f"the Spark Connect server did not start: {tail}")
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


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server started for this run."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(local_server(tmp_path_factory.mktemp("spark")))
        except Unavailable as error:
            _unavailable(str(error))
        yield url
