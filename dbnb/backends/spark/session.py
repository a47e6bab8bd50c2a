"""A Spark connection's Spark Connect session: its URL, and the client loading lazily.

The client is the optional extra ``spark`` (``pyspark-client``, Spark's thin Spark
Connect client); without it, one line names the extra.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from dbnb.config import ConnectionConfig, spark_connect_url
from dbnb.errors import DbnbError, one_line


def remote_url(config: ConnectionConfig) -> str:
    """Spark Connect's ``sc://host:port/;user_id=...;token=...`` for ``config``."""
    return spark_connect_url(config.url, hide_token=False)


def client_module() -> Any:
    """``pyspark.sql.connect``'s session module, or one line naming the extra."""
    # gRPC's core logs each failed TLS handshake to stderr; dbnb says it in one line.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    try:
        with warnings.catch_warnings():
            # pyspark warns at import that it has not been tested with pandas 3; dbnb
            # never hands pandas to Spark (results come as Arrow), so it does not matter.
            warnings.filterwarnings(
                "ignore",
                message="PySpark does not yet fully support pandas",
                category=FutureWarning,
            )
            from pyspark.sql.connect import session
    except ImportError:
        raise DbnbError(
            "Spark connections need the Spark Connect client: pip install 'dbnb[spark]'"
        ) from None
    # pyspark logs every SQL error it raises, with its JVM stack trace, to stderr;
    # dbnb raises the same message as one line, so the log would only repeat it.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return session


def _retries(max_retries: int = 4) -> Any:
    """Spark Connect's client retries an unreachable server for ten minutes by default;
    a notebook should hear within seconds."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    return DefaultPolicy(
        max_retries=max_retries, initial_backoff=250, backoff_multiplier=2.0, max_backoff=2000
    )


CHECK_WITHIN = 4.0  # seconds the first call may take before the server counts as unreachable
_DETAILS = re.compile(r'details = "([^"]*)"')


def why_unreachable(error: BaseException) -> str:
    """What gRPC said, as one line with the remedy: a wrong host or port, or a token
    (which Spark Connect sends only over TLS) to a server without TLS."""
    text = str(error)
    found = _DETAILS.search(text)
    details = found.group(1) if found else one_line(error)
    if "Tls handshake" in details or "SSL" in details:
        return (
            "the TLS handshake failed: a token is sent only over TLS, and this server does not "
            "speak it; drop the token, or give the server TLS (a proxy in front of it)"
        )
    if "refused" in details or "failed to connect" in details:
        return (
            "nothing answers there; check the host and port, and that the Spark Connect server runs"
        )
    return details


_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dbnb-spark-check")


def _discard(spark: Any) -> None:
    """Let go of a session whose server did not answer: stopped now, with its one retry,
    not at the interpreter's exit (where its release retried and warned after the run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the client's RETRIES_EXCEEDED: said already
        with contextlib.suppress(Exception):
            spark.stop()


class Connected(Protocol):
    """What Spark's reads, writes and catalog ask of the connection (``SparkDatabase``)."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> ConnectionConfig: ...

    @property
    def spark(self) -> Any: ...

    def require_writable(self) -> None: ...


class Session:
    """One connection's Spark Connect session, opened on first use, closed by ``close``."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._spark: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The ``pyspark.sql.connect`` ``SparkSession``, opened on first use."""
        with self._lock:
            if self._spark is None:
                module = client_module()
                try:
                    builder = module.SparkSession.builder.remote(remote_url(self.config))
                    spark = builder.create()
                except Exception as error:
                    raise self.unreachable(error) from None
                self._check(spark)
                spark.client.set_retry_policies([_retries()])
                self._spark = spark
            return self._spark

    def _check(self, spark: Any) -> None:
        """Ask the server its version, within ``CHECK_WITHIN`` seconds and one retry: a
        server that does not answer is one line with the remedy, not minutes of retries."""
        spark.client.set_retry_policies([_retries(max_retries=1)])

        def version() -> str:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the client's RETRIES_EXCEEDED: said below
                return str(spark.version)

        future = _CHECKS.submit(version)
        try:
            future.result(timeout=CHECK_WITHIN)
        except TimeoutError:
            _discard(spark)
            raise self.unreachable_because(
                f"no answer within {CHECK_WITHIN:g} s; check the host and port"
            ) from None
        except Exception as error:
            _discard(spark)
            raise self.unreachable_because(why_unreachable(error)) from None

    def unreachable(self, error: BaseException) -> DbnbError:
        return self.unreachable_because(one_line(error))

    def unreachable_because(self, reason: str) -> DbnbError:
        return DbnbError(
            f"cannot connect to {self.config.name!r} ({self.config.safe_url}): {self.mask(reason)}"
        )

    def mask(self, text: str) -> str:
        """``text`` with the connection's token masked (``ConnectionConfig.mask``)."""
        return self.config.mask(text)

    def close(self) -> None:
        with self._lock:
            spark, self._spark = self._spark, None
        if spark is not None:
            spark.stop()  # releases the session on the server; best effort, never raises
