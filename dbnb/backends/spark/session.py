"""A Spark connection's Spark Connect session: its URL, and the client loading lazily.

The client is the optional extra ``spark`` (``pyspark-client``, Spark's thin Spark
Connect client); without it, one line names the extra.
"""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any
from urllib.parse import quote

from dbnb.config import ConnectionConfig
from dbnb.errors import DbnbError, one_line

DEFAULT_PORT = 15002  # Spark Connect's own default


def remote_url(config: ConnectionConfig) -> str:
    """Spark Connect's ``sc://host:port/;user_id=...;token=...`` for ``config``."""
    url = config.url
    settings = dict(url.query)
    if url.username:
        settings["user_id"] = url.username
    if url.password:
        settings["token"] = str(url.password)
    tail = "".join(f";{key}={quote(str(value), safe='')}" for key, value in settings.items())
    return f"sc://{url.host or 'localhost'}:{url.port or DEFAULT_PORT}/{tail}"


def client_module() -> Any:
    """``pyspark.sql.connect``'s session module, or one line naming the extra."""
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


def _retries() -> Any:
    """Spark Connect's client retries an unreachable server for ten minutes by default;
    a notebook should hear within seconds (about 5 s here, as other databases' connect
    timeout)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    return DefaultPolicy(
        max_retries=4, initial_backoff=250, backoff_multiplier=2.0, max_backoff=2000
    )


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
                    spark.client.set_retry_policies([_retries()])
                    self._spark = spark
                except Exception as error:
                    raise self.unreachable(error) from None
            return self._spark

    def unreachable(self, error: BaseException) -> DbnbError:
        return DbnbError(
            f"cannot connect to {self.config.name!r} ({self.config.safe_url}): "
            f"{self.mask(one_line(error))}"
        )

    def mask(self, text: str) -> str:
        """``text`` with the connection's token masked (``ConnectionConfig.mask``)."""
        return self.config.mask(text)

    def close(self) -> None:
        with self._lock:
            spark, self._spark = self._spark, None
        if spark is not None:
            spark.stop()  # releases the session on the server; best effort, never raises
