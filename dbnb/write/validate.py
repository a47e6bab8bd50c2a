"""Rows checked against a table before anything is sent.

``check`` matches a DataFrame's columns to the table's (by name or model
attribute), fills in Python-side defaults, converts each column to the Arrow
array the database will receive (``convert.ColumnConversion``, a column at a
time with Arrow compute functions) and refuses NULL where the column is NOT
NULL. A ``ValidationError`` names the row, the column, the value and the reason.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Column, Table

from dbnb.errors import ValidationError
from dbnb.write.columns import Spec, WriteRules, has_default, plain, python_default, spec_for
from dbnb.write.convert import ColumnConversion


@dataclass
class Checked:
    """Validated columns, ready to send: Arrow arrays, or Python lists for ``other`` columns."""

    table: Table
    labels: pd.Index
    columns: dict[str, pa.Array | list[Any]] = field(default_factory=dict)
    specs: dict[str, Spec] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # an upsert's key columns

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, position: int) -> Hashable:
        """The user's name for the row at ``position``: its DataFrame index label."""
        return plain(self.labels[position])  # type: ignore[no-any-return]


def check(
    frame: pd.DataFrame,
    table: Table,
    rules: WriteRules,
    *,
    aliases: dict[str, str] | None = None,
    labels: pd.Index | None = None,
) -> Checked:
    """Validate every row of ``frame`` against ``table``; the columns to send.

    ``aliases`` maps model attribute names to column names. Columns left out,
    or all NULL where the database has a default, are not sent, so the
    database fills them in (autoincrement keys, server defaults).
    """
    name = table.name
    labels = frame.index if labels is None else labels
    checked = Checked(table=table, labels=labels)
    by_name = {column.name: column for column in table.columns}
    aliases = aliases or {}
    given: dict[str, pd.Series] = {}
    if frame.columns.has_duplicates:
        twice = frame.columns[frame.columns.duplicated()][0]
        raise ValidationError.at(name, "the DataFrame has this column twice", column=str(twice))
    for label in frame.columns:
        key = str(label)
        column_name = key if key in by_name else aliases.get(key)
        if column_name is None:
            known = ", ".join(by_name)
            raise ValidationError.at(name, f"no such column (the table has: {known})", column=key)
        if column_name in given:
            raise ValidationError.at(name, "given twice (by name and by attribute)", column=key)
        given[column_name] = frame[label]

    for column in table.columns:
        spec = spec_for(column.type, rules)
        series = given.get(column.name)
        if series is None:
            values = python_default(column, len(frame))
            if values is None:
                if not column.nullable and not has_default(column) and len(frame):
                    raise ValidationError.at(
                        name,
                        "missing: the column is NOT NULL and has no default",
                        column=column.name,
                    )
                continue
            series = pd.Series(values, index=frame.index, dtype=object)
        converted = _convert(checked, column, spec, series, rules)
        if _null_count(converted) == len(frame) and len(frame) and has_default(column):
            values = python_default(column, len(frame))
            if values is None:
                continue  # the database fills it in
            series = pd.Series(values, index=frame.index, dtype=object)
            converted = _convert(checked, column, spec, series, rules)
        if not column.nullable and _null_count(converted):
            position = _first_null(converted)
            raise ValidationError.at(
                name,
                "NULL in a NOT NULL column",
                row=checked.label(position),
                column=column.name,
                value=None,
            )
        checked.columns[column.name] = converted
        checked.specs[column.name] = spec
    return checked


def _null_count(values: pa.Array | list[Any]) -> int:
    if isinstance(values, pa.Array):
        return int(values.null_count)
    return sum(value is None for value in values)


def _first_null(values: pa.Array | list[Any]) -> int:
    if isinstance(values, pa.Array):
        return int(pc.index(values.is_null(), True).as_py())
    return next(i for i, value in enumerate(values) if value is None)


def _convert(
    checked: Checked, column: Column[Any], spec: Spec, series: pd.Series, rules: WriteRules
) -> pa.Array | list[Any]:
    conversion = ColumnConversion(checked.table.name, checked.label, column, spec, series, rules)
    return conversion.convert()
