"""A result written to a file as well as returned: CSV or Parquet, whole or not at all.

Each is written to a fresh hidden file beside the target and renamed at the end
(``dbnb.read.replace``), so a failure leaves no half-written file and keeps an older
one of that name intact (as ``Database.query_to_parquet`` does). In CSV, a JSON column's values are
written as JSON text (``{"a": true}``), not as Python's repr of a dict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from dbnb.errors import DbnbError, one_line
from dbnb.read import parquet
from dbnb.read.replace import replacing


def to_csv(frame: Any, path: str | os.PathLike[str]) -> int:
    """Write ``frame`` (pandas, polars or Arrow) to ``path`` as CSV (no index); returns
    the rows written."""
    if not isinstance(frame, pd.DataFrame):
        frame = frame.to_pandas()  # polars and pyarrow both have it
    target = Path(path)
    try:
        with replacing(target) as file:
            json_text(frame).to_csv(file, index=False, encoding="utf-8")
    except OSError as error:
        raise DbnbError(f"cannot write {target}: {one_line(error)}") from None
    return len(frame)


def to_parquet(frame: Any, path: str | os.PathLike[str]) -> int:
    """Write ``frame`` (pandas, polars or Arrow) to ``path`` as one Parquet file;
    returns the rows written."""
    if isinstance(frame, pd.DataFrame):
        table = parquet.frame_to_arrow(frame)
    else:  # a pyarrow Table as it is, a polars DataFrame as its Arrow
        table = (
            frame if hasattr(frame, "schema") and hasattr(frame, "num_rows") else frame.to_arrow()
        )
    try:
        return parquet.write([table], path)
    except OSError as error:
        raise DbnbError(f"cannot write {path}: {one_line(error)}") from None


def json_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each JSON column (objects or arrays among its values) as JSON
    text; the other columns as they are. The frame given is not changed."""
    converted = {}
    for index in range(frame.shape[1]):
        series = frame.iloc[:, index]
        if series.dtype == object and any(isinstance(v, dict | list) for v in series):
            converted[index] = series.map(_json, na_action="ignore")
    if not converted:
        return frame
    copy = frame.copy(deep=False)
    for index, series in converted.items():
        copy.isetitem(index, series.to_numpy(dtype=object))
    return copy


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
