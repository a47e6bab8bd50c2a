"""A command's result as the ``dbnb`` command line writes it: an aligned table for
the eye, CSV, JSON or Parquet for tools; one line of error for what cannot be written.

JSON writes JSON columns as JSON, bytes as hex and NULL as ``null``; CSV writes JSON
columns as JSON text and bytes as hex; Parquet keeps every column's Arrow type.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbnb.errors import DbnbError, one_line
from dbnb.read.replace import replacing

# Writing loads pandas; the command line's parser and --help need none of it.
if TYPE_CHECKING:
    import pandas as pd


def write_frame(frame: pd.DataFrame, form: str, output: Path | None) -> None:
    """``frame`` in ``form`` to ``output`` (whole or not at all), or to stdout."""
    if form == "parquet":
        assert output is not None  # the parser insists
        try:
            with replacing(output) as file:
                frame.to_parquet(file, index=False)
        except OSError as error:
            raise DbnbError(f"cannot write {output}: {error.strerror or error}") from None
        except (ValueError, TypeError, ImportError) as error:
            raise DbnbError(f"cannot write Parquet to {output}: {one_line(error)}") from None
        return
    text = render(frame, form)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        with replacing(output) as file:
            file.write(text.encode("utf-8"))
    except OSError as error:
        raise DbnbError(f"cannot write {output}: {error.strerror or error}") from None


def render(frame: pd.DataFrame, form: str) -> str:
    import pandas as pd

    if form == "csv":
        return _with_text_for_objects(frame).to_csv(index=False)
    if form == "json":
        records = [
            {str(name): _json_value(value) for name, value in row.items()}
            for row in frame.to_dict("records")
        ]
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if frame.columns.empty:
        return "(no rows)\n"
    if frame.empty:
        return "  ".join(str(column) for column in frame.columns) + "\n(no rows)\n"
    with pd.option_context("display.width", None, "display.max_colwidth", None):
        return _with_text_for_objects(frame, keep_documents=True).to_string(index=False) + "\n"


def _json_value(value: Any) -> Any:
    """A JSON value that keeps the database's: exact decimals as text, times in ISO 8601."""
    import pandas as pd

    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # a float would round it; str() may say 1E-20
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):  # ISO 8601, signed as a whole: -P0DT12H30M0S
        sign = "-" if value < timedelta(0) else ""
        return sign + pd.Timedelta(abs(value)).isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if hasattr(value, "item"):  # NumPy scalars
        return _json_value(value.item())
    return str(value)  # UUID, IP addresses, ranges...


def _with_text_for_objects(frame: pd.DataFrame, *, keep_documents: bool = False) -> pd.DataFrame:
    """JSON documents and arrays as JSON text, bytes as hex, exact decimals and signed
    durations as the database writes them: what a CSV reader can take back (a table
    shows documents as they are, ``keep_documents``)."""
    import pandas as pd
    import pyarrow as pa

    plain = frame.copy()
    for name, dtype in frame.dtypes.items():
        arrow = dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else None
        written = arrow is not None and (pa.types.is_binary(arrow) or pa.types.is_decimal(arrow))
        if written or pd.api.types.is_object_dtype(dtype):
            convert = _shown_value if keep_documents else _csv_value
            values = [convert(value) for value in frame[name]]  # None stays None
            plain[name] = pd.Series(values, index=frame.index, dtype=object)
    return plain


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return _shown_value(value)


def _shown_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, timedelta):
        return _clock(value)
    return value


def _clock(value: timedelta) -> str:
    """A duration as MariaDB/MySQL write a TIME: -12:30:00, 838:59:59.5."""
    sign = "-" if value < timedelta(0) else ""
    whole, micros = divmod(abs(value) // timedelta(microseconds=1), 1_000_000)
    hours, rest = divmod(whole, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{micros:06d}".rstrip("0") if micros else text


# --- commands -----------------------------------------------------------------------
