"""dbnb's documented dtypes as Arrow types, for the readers: a SQLAlchemy column
type's (``arrow_type``, from ``dbnb.typetable.SQLALCHEMY``) and an unconstrained
numeric's, fitted to its values. Each database's own types are its type table's
(``dbnb/backends/NAME/typetable.py``). ``OBJECT`` marks a column kept as Python
values (JSON, UUID, arrays, numerics wider than Arrow's decimals).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import types as sqltypes

from dbnb.typetable import OBJECT, UTC_MICROS, decimal, sql_rule

__all__ = ["FITTED_PRECISION", "OBJECT", "UTC_MICROS", "arrow_type", "decimal", "fitted_decimal"]

# An unconstrained numeric (what sum() and avg() of numeric give) as decimal128(38, s)
# when its values fit (``fitted_decimal``); an empty result has no digits to go by.
FITTED_PRECISION = 38


def fitted_decimal(scale: int, integer_digits: int) -> pa.DataType:
    """The decimal128 for values of at most ``integer_digits`` digits before the point
    and ``scale`` after: fewer after the point when 38 digits cannot hold both (the
    values must then have zeros there, or do not fit)."""
    return pa.decimal128(
        FITTED_PRECISION, max(0, min(scale, FITTED_PRECISION - max(integer_digits, 1)))
    )


def arrow_type(sql_type: sqltypes.TypeEngine[Any]) -> pa.DataType | None:
    """The Arrow type for a SQLAlchemy column type, or None to look at the values."""
    rule = sql_rule(sql_type)
    return None if rule is None else rule.arrow_type(sql_type)
