"""``%db tables`` and ``%db describe`` on Spark, from Spark's catalog."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import pandas as pd

from dbnb.backends.spark import reads
from dbnb.connections.facade import DESCRIBE_COLUMNS, TABLE_COLUMNS, Catalog
from dbnb.errors import QueryError

if TYPE_CHECKING:
    from dbnb.backends.spark.session import Connected


class SparkCatalog(Catalog):
    """A Spark connection's tables and columns (``spark.catalog``: read only)."""

    def __init__(self, db: Connected) -> None:
        self.db = db

    def tables(self, schema: str | None) -> pd.DataFrame:
        catalog = self.db.spark.catalog
        try:
            shown = schema or catalog.currentDatabase()
            found = [
                (table.name, "view" if "VIEW" in str(table.tableType).upper() else "table")
                for table in catalog.listTables(dbName=schema)
            ]
        except reads.spark_errors() as error:
            raise QueryError(
                f"{self.db.name}: cannot list tables: {reads.message(error)}"
            ) from None
        rows = [(shown, name, kind) for name, kind in sorted(found)]
        return pd.DataFrame(rows, columns=TABLE_COLUMNS).astype("string")

    def describe(self, table: str, schema: str | None) -> pd.DataFrame:
        catalog = self.db.spark.catalog
        qualified = f"{schema}.{table}" if schema else table
        if not catalog.tableExists(qualified):
            known = [found.name for found in catalog.listTables(dbName=schema)]
            close = difflib.get_close_matches(table, known, n=3)
            if close:
                hint = f"did you mean {', '.join(close)}?"
            elif known:
                hint = f"tables: {', '.join(sorted(known))}"
            else:
                hint = "it has no tables"
            raise QueryError(f"{self.db.name}: no table {table!r}; {hint}")
        try:
            columns = catalog.listColumns(qualified)
        except reads.spark_errors() as error:
            raise QueryError(
                f"{self.db.name}: cannot describe {table!r}: {reads.message(error)}"
            ) from None
        rows = [
            (column.name, column.dataType, bool(column.nullable), None, False, None)
            for column in columns
        ]
        frame = pd.DataFrame(rows, columns=DESCRIBE_COLUMNS)
        return frame.astype(
            {
                "column": "string",
                "type": "string",
                "nullable": "bool",
                "default": "string",
                "primary_key": "bool",
                "references": "string",
            }
        )
