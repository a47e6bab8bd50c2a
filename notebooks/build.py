"""Write the example notebooks and save their outputs by running them top to bottom.

    .venv/bin/python notebooks/build.py            # every notebook
    .venv/bin/python notebooks/build.py 03         # the ones whose name starts with 03
    .venv/bin/python notebooks/build.py --check    # exit 1 if a saved notebook differs
    .venv/bin/python notebooks/build.py --check --cells   # its cells only, not run (make test)

`make test` runs `--check`, and executes the saved notebooks with nbval, which
compares their outputs; so run this after changing a notebook (or dbnb's output)
and commit the result. Cells tagged `raises-exception` show an error on purpose.

`--check` runs each notebook as building it would, writes nothing, and compares
the result with the file: the cells, their ids, sources and tags exactly, and
their outputs as nbval compares them (streams of one name joined, tracebacks,
execution counts, images and metadata left out, `sanitize.cfg` applied to both
sides), since timings and paths differ from run to run.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat
from databases import own_databases
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ERROR = "raises-exception"

# A notebook's cells: (kind, source) or (kind, source, tag); kind is "md" or "code".
Cells = list[tuple[str, str] | tuple[str, str, str]]
NOTEBOOKS: dict[str, Cells] = {}

NOTEBOOKS["01_quick_start"] = [
    (
        "md",
        """# Quick start: the embedded SQLite default

dbnb finds the project's `etc/infra.yaml` (here `../etc/infra.yaml`), whose
default connection `local` is a SQLite file: no server needed. Load the magics:""",
    ),
    ("code", "%load_ext dbnb"),
    ("md", "`%db` alone lists the connections and marks the current one with `*`."),
    ("code", "%db"),
    (
        "md",
        """`make demo` fills a `demo_shield` table in this same file. Run it here too, so
this notebook starts from the same place wherever it runs:""",
    ),
    ("code", "from dbnb.devtools import demo\n\ndemo.main()"),
    (
        "md",
        """Reads are read-only unless you say otherwise. To create and fill a table,
say so with `--write`: every statement of the cell runs in one write
transaction, committed together at the end.""",
    ),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS pets;
CREATE TABLE pets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, species TEXT, born DATE);
INSERT INTO pets (name, species, born) VALUES
    ('Ada', 'cat', '2019-04-01'), ('Brian', 'dog', '2020-09-12'), ('Cleo', 'cat', NULL);""",
    ),
    ("md", "A line query returns a DataFrame; one summary line says where and how long."),
    ("code", "%db SELECT * FROM pets ORDER BY id"),
    (
        "md",
        """`%%db -o VAR` also stores the result in a variable. Its provenance travels
with it in `attrs`.""",
    ),
    (
        "code",
        """%%db -o cats
SELECT name, born FROM pets WHERE species = 'cat' ORDER BY name""",
    ),
    ("code", 'cats.attrs["sql"], cats.attrs["connection"], cats.attrs["rows"]'),
    ("md", "What is in the database, and what a table looks like:"),
    ("code", "%db tables"),
    ("code", "%db describe pets"),
    (
        "md",
        """A write without `--write` is refused by SQLite itself (nothing is written),
with one line saying what to do:""",
    ),
    ("code", "%db DELETE FROM pets", ERROR),
    ("code", "%db SELECT count(*) AS pets FROM pets"),
    (
        "md",
        """The same from Python: `dbnb.connect()` gives the default connection, and
`tables()` / `describe()` are the functions behind the subcommands.""",
    ),
    (
        "code",
        """import dbnb

db = dbnb.connect()
db.query("SELECT name FROM pets WHERE born > :since", {"since": "2020-01-01"})""",
    ),
    ("code", 'dbnb.describe(db, "pets")[["column", "type", "nullable", "primary_key"]]'),
]

NOTEBOOKS["02_connections_and_readonly"] = [
    (
        "md",
        """# Named connections and read-only safety (PostgreSQL)

`etc/infra.yaml` names two PostgreSQL connections to the same server:
`postgres`, which may write when asked, and `replica`, marked `readonly: true`
like a production replica. This notebook creates and drops its own table.""",
    ),
    ("code", "%load_ext dbnb"),
    ("code", "%db use postgres"),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS dbnb_nb_orders;
CREATE TABLE dbnb_nb_orders (
    id serial PRIMARY KEY,
    region text NOT NULL,
    total numeric(10, 2) NOT NULL,
    placed timestamptz NOT NULL DEFAULT '2024-01-01 12:00+00'
);
INSERT INTO dbnb_nb_orders (region, total) VALUES ('EU', 120.50), ('US', 80.00), ('EU', 42.25);""",
    ),
    ("md", "The list marks the current connection; `replica` shows it is read-only."),
    ("code", "%db"),
    ("md", "Types are kept: `numeric(10, 2)` is an exact decimal, `timestamptz` is UTC."),
    ("code", "%db SELECT * FROM dbnb_nb_orders ORDER BY id"),
    ("code", "_.dtypes"),
    (
        "md",
        """Every read runs in a `READ ONLY` transaction, so the server refuses a write,
and the magic says how to write on purpose:""",
    ),
    ("code", "%db UPDATE dbnb_nb_orders SET total = 0", ERROR),
    (
        "md",
        """A cell is one transaction that dbnb begins and ends, so transaction control
is refused before anything runs: a `COMMIT` cannot end the read-only
transaction, nor split a `--write` cell in two.""",
    ),
    ("code", "%db COMMIT", ERROR),
    (
        "md",
        """`%%db NAME` runs one cell on another connection. The replica reads, and
never writes, with `--write` or without:""",
    ),
    (
        "code",
        """%%db replica
SELECT region, sum(total) AS total FROM dbnb_nb_orders GROUP BY region ORDER BY region""",
    ),
    (
        "code",
        """%%db replica --write
DELETE FROM dbnb_nb_orders""",
        ERROR,
    ),
    ("md", "An error from the server is one line with its position in the statement:"),
    ("code", "%db SELECT totl FROM dbnb_nb_orders", ERROR),
    ("md", "Nothing was written through `replica`:"),
    ("code", "%db SELECT count(*) AS orders FROM dbnb_nb_orders"),
    ("code", "%db use nowhere", ERROR),
    (
        "md",
        """`%db health` checks connections: reachable, server version, latency, and
whether the database really refuses a write on the read-only path. (Latency and
pool figures change from run to run, so this notebook keeps the stable columns.)""",
    ),
    (
        "code",
        """report = %db health postgres replica
report[["connection", "ok", "reachable", "readonly_enforced"]]""",
    ),
    ("md", "`%db history` lists what dbnb ran most recently, with the rows of each:"),
    (
        "code",
        """recent = %db history 3
recent[["connection", "sql", "rows", "error"]]""",
    ),
    ("md", "Clean up:"),
    ("code", "%db --write DROP TABLE dbnb_nb_orders"),
]

NOTEBOOKS["03_bound_variables_and_large_results"] = [
    (
        "md",
        """# Bound variables and large results

`:name` in a query is bound from the notebook variable `name`, as a parameter:
its value is never pasted into the SQL text, so it cannot change the query.""",
    ),
    ("code", "%load_ext dbnb"),
    ("code", "%db use postgres"),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS dbnb_nb_cities;
CREATE TABLE dbnb_nb_cities (name text PRIMARY KEY, country text, population integer);
INSERT INTO dbnb_nb_cities VALUES
    ('Lyon', 'FR', 522250), ('Porto', 'PT', 231962), ('Graz', 'AT', 291134);""",
    ),
    ("code", 'country = "FR"\nat_least = "100000"'),
    (
        "md",
        """A PostgreSQL cast works on a placeholder as written (`:at_least::int`), and a
colon inside a string literal is just text:""",
    ),
    (
        "code",
        """%%db
SELECT name, population, 'at 10:30' AS meeting
FROM dbnb_nb_cities
WHERE country = :country AND population >= :at_least::int""",
    ),
    ("md", "A value that looks like SQL is only data: it matches nothing and drops nothing."),
    (
        "code",
        """country = "FR'; DROP TABLE dbnb_nb_cities; --"
%db SELECT count(*) AS matches FROM dbnb_nb_cities WHERE country = :country""",
    ),
    ("code", "%db SELECT count(*) AS cities FROM dbnb_nb_cities"),
    ("md", "A placeholder without a variable is named in the error:"),
    ("code", "%db SELECT * FROM dbnb_nb_cities WHERE country = :region", ERROR),
    (
        "md",
        """## Large results

A result shows at most `DbMagics.display_limit` rows (20 by default); the
variable given with `-o`, and `_`, hold every row.""",
    ),
    (
        "code",
        """%%db -o big
SELECT n, md5(n::text) AS digest FROM generate_series(1, 100000) AS n""",
    ),
    ("code", 'len(big), len(_), big.attrs["rows"]'),
    ("code", "%config DbMagics.display_limit = 6\nbig"),
    ("md", "A frame you derive from the result is shown as pandas shows any frame:"),
    ("code", "big.iloc[::25_000]"),
    ("code", "%db --write DROP TABLE dbnb_nb_cities"),
]

NOTEBOOKS["04_write_sessions"] = [
    (
        "md",
        """# Writing on purpose, and round trips

Writes happen only where you ask for them: `%%db --write` in a notebook, and
`db.write(...)` or a `write=True` session in Python. Each is one transaction:
it commits as a whole, or not at all. (This notebook uses the SQLite default.)""",
    ),
    ("code", "%load_ext dbnb"),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS stock;
CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER NOT NULL CHECK (qty >= 0));
INSERT INTO stock VALUES ('apple', 10), ('pear', 4);""",
    ),
    (
        "md",
        """If one statement of a `--write` cell fails, the ones before it are rolled
back too: here the first `UPDATE` succeeds, the second breaks the `CHECK`.""",
    ),
    (
        "code",
        """%%db --write
UPDATE stock SET qty = qty + 5 WHERE sku = 'apple';
UPDATE stock SET qty = qty - 9 WHERE sku = 'pear';""",
        ERROR,
    ),
    ("code", "%db SELECT * FROM stock ORDER BY sku"),
    (
        "md",
        """A round trip: read into a DataFrame, change it in pandas, and write it back
with `db.write`: every row is validated first, then all are written in one
transaction (`mode="upsert"` matches rows on the primary key).""",
    ),
    ("code", "%db -o stock SELECT * FROM stock ORDER BY sku"),
    (
        "code",
        """import pandas as pd

import dbnb

db = dbnb.connect()
stock["qty"] = stock["qty"] * 2
db.write(stock, "stock", mode="upsert")""",
    ),
    ("code", "%db SELECT * FROM stock ORDER BY sku"),
    (
        "md",
        """The same round trip without leaving the magics: `%db write DF TABLE MODE`
writes a DataFrame variable back, validated, in one transaction.""",
    ),
    ("code", 'stock.loc[stock["sku"] == "pear", "qty"] = 1\n%db write stock stock upsert'),
    ("code", "%db SELECT * FROM stock ORDER BY sku"),
    (
        "md",
        """A row that does not fit the table is refused before anything is sent, with
the row and column named:""",
    ),
    (
        "code",
        """db.write(pd.DataFrame({"sku": ["fig", "kiwi"], "qty": [3, None]}), "stock")""",
        ERROR,
    ),
    ("code", "%db SELECT count(*) AS skus FROM stock"),
    (
        "md",
        """SQLModel classes work in write sessions too (`with db.session(write=True)`,
one transaction); the objects stay usable after the block.""",
    ),
    (
        "code",
        """from sqlmodel import Field, SQLModel


class Stock(SQLModel, table=True):
    sku: str = Field(primary_key=True)
    qty: int


with db.session(write=True) as session:
    session.add(Stock(sku="plum", qty=7))
%db SELECT * FROM stock ORDER BY sku""",
    ),
    ("code", "%db --write DROP TABLE stock"),
]

NOTEBOOKS["05_jupysql"] = [
    (
        "md",
        """# A dbnb connection in jupysql's `%sql`

`dbnb.sql_engine(name)` is the named connection's pooled engine with dbnb's
read-only guards on. Give it to jupysql with autocommit off: dbnb refuses to
read in autocommit mode, because the server's read-only transaction is what
keeps a read a read.""",
    ),
    (
        "code",
        """import os

os.environ["PLOOMBER_STATS_ENABLED"] = "false"  # jupysql's usage statistics: off
%load_ext sql
%load_ext dbnb
%config SqlMagic.autocommit = False
%config SqlMagic.displaycon = False""",
    ),
    (
        "code",
        """%%db postgres --write
DROP TABLE IF EXISTS dbnb_nb_notes;
CREATE TABLE dbnb_nb_notes (id serial PRIMARY KEY, note text NOT NULL);
INSERT INTO dbnb_nb_notes (note) VALUES ('first'), ('second');""",
    ),
    (
        "code",
        """import dbnb

replica = dbnb.sql_engine("replica")
%sql replica --alias replica""",
    ),
    ("code", "%sql SELECT * FROM dbnb_nb_notes ORDER BY id"),
    ("md", "A write through it is refused by the server, and nothing is written:"),
    ("code", "%sql DELETE FROM dbnb_nb_notes", ERROR),
    (
        "md",
        """To write from `%sql`, ask for it: `write=True` on a connection that allows
writes (never on a `readonly: true` one), with jupysql's autocommit on so that
each statement commits. This is offered on PostgreSQL.""",
    ),
    (
        "code",
        """%config SqlMagic.autocommit = True
scratch = dbnb.sql_engine("postgres", write=True)
%sql scratch --alias scratch
%sql INSERT INTO dbnb_nb_notes (note) VALUES ('third')
%config SqlMagic.autocommit = False""",
    ),
    ("code", "%sql replica\n%sql SELECT count(*) AS notes FROM dbnb_nb_notes"),
    ("code", 'dbnb.sql_engine("replica", write=True)', ERROR),
    ("code", "%sql --close scratch\n%sql --close replica"),
    ("code", "%%db postgres --write\nDROP TABLE dbnb_nb_notes"),
]


NOTEBOOKS["06_see_the_data"] = [
    (
        "md",
        """# See the data: plots, profiles and plans computed by the database

The database does the counting and only its answer travels: a histogram of a
table brings back its bins, a profile one row of statistics. Everything runs
through the read-only path, with bound `:names`, and lands in the history.
First on the embedded SQLite file (`local`), then on PostgreSQL (`postgres`).
Plots need matplotlib (`pip install 'dbnb[plots]'`).""",
    ),
    ("code", "%load_ext dbnb"),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS see_orders;
CREATE TABLE see_orders (
    id INTEGER PRIMARY KEY, region TEXT, total REAL, placed DATETIME, doc JSON
);
CREATE INDEX see_orders_region ON see_orders (region);
INSERT INTO see_orders
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
SELECT i,
       CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN 'US' WHEN 2 THEN 'APAC' ELSE 'EU' END,
       (i * 37) % 500 + 0.25,
       datetime('2024-01-01', '+' || i || ' hours'),
       json_object('k', i % 3, 'vip', json(CASE WHEN i % 7 = 0 THEN 'true' ELSE 'false' END))
FROM n;""",
    ),
    (
        "md",
        """## A result says what it is

The line above a result names the connection, the rows and the time taken,
and how many rows the display shows; the DataFrame itself holds every row.""",
    ),
    ("code", "%db SELECT * FROM see_orders ORDER BY id"),
    ("code", "len(_)"),
    (
        "md",
        """## Plots computed by the database

`%db plot KIND TABLE COLUMN`: `hist` (`--bins N`), `bar` (`--top N`), `box`.
One aggregate statement is sent; the history shows what came back.""",
    ),
    ("code", "%db plot hist see_orders total --bins 10"),
    ("code", 'import dbnb\n\ndbnb.history(1)[["connection", "rows"]]'),
    ("code", "%db plot bar see_orders region"),
    (
        "md",
        """In a cell, the plot reads the cell's query, aggregated on the server as a
subquery; `:region` is bound from the notebook's variable.""",
    ),
    ("code", 'region = "EU"'),
    (
        "code",
        """%%db plot box - total
SELECT total FROM see_orders WHERE region = :region""",
    ),
    (
        "md",
        """## Profiles

One row per column, computed by one aggregate statement: the same numbers
pandas gives on the same rows.""",
    ),
    ("code", "%db profile see_orders"),
    (
        "md",
        """## Plans

SQLite's `EXPLAIN QUERY PLAN` as a tree, with a summary line. SQLite has no
`EXPLAIN ANALYZE`: `--analyze` runs the statement, read-only, and times it.""",
    ),
    (
        "code",
        "%db explain SELECT region, count(*) FROM see_orders WHERE region = 'EU' OR id < 10 "
        "GROUP BY region",
    ),
    ("code", "%db explain --analyze SELECT * FROM see_orders WHERE region = 'US'"),
    ("md", "Analyzing a write is refused, and nothing changes:"),
    ("code", "%db explain --analyze DELETE FROM see_orders", ERROR),
    ("code", "%db SELECT count(*) AS orders FROM see_orders"),
    (
        "md",
        """## Exports

`--csv PATH` / `--parquet PATH` write every row as well as returning them,
whole or not at all. JSON columns are written as JSON text:""",
    ),
    (
        "code",
        """%%db --csv ../etc/data/see_orders.csv
SELECT id, doc FROM see_orders WHERE id <= 3 ORDER BY id""",
    ),
    (
        "code",
        """import json

import pandas as pd

written = pd.read_csv("../etc/data/see_orders.csv")
print(open("../etc/data/see_orders.csv").read())
[json.loads(text) for text in written["doc"]]""",
    ),
    (
        "md",
        """## The same on PostgreSQL

20 000 rows, analyzed (every row sampled, so the estimates are the same each run).""",
    ),
    ("code", "%db use postgres"),
    (
        "code",
        """%%db --write
DROP TABLE IF EXISTS dbnb_nb_see;
CREATE TABLE dbnb_nb_see AS
SELECT g AS id,
       (ARRAY['EU', 'US', 'APAC', NULL])[g % 4 + 1] AS region,
       round(((g * 37) % 500 + 0.25)::numeric, 2)::numeric(10, 2) AS total,
       timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' AS placed,
       jsonb_build_object('k', g % 3, 'vip', g % 7 = 0) AS doc
FROM generate_series(1, 20000) AS g;
ANALYZE dbnb_nb_see;""",
    ),
    ("code", "%db plot hist dbnb_nb_see total --bins 20"),
    ("code", 'dbnb.history(1)[["connection", "rows"]]'),
    ("code", "%db plot bar dbnb_nb_see region --top 3"),
    ("code", "%db profile dbnb_nb_see"),
    (
        "md",
        """PostgreSQL's own `EXPLAIN`, full width, under a summary of the top node's
estimate; with `--analyze`, the actual rows and time too (`EXPLAIN (ANALYZE, BUFFERS)`).""",
    ),
    ("code", "%db explain SELECT region, sum(total) FROM dbnb_nb_see GROUP BY region ORDER BY 2"),
    (
        "code",
        """plan = dbnb.connect("postgres").explain(
    "SELECT * FROM dbnb_nb_see WHERE total > :least", {"least": 400}, analyze=True
)
print(plan.summary)""",
    ),
    ("code", "%db explain --analyze DELETE FROM dbnb_nb_see", ERROR),
    (
        "code",
        """%%db --csv ../etc/data/dbnb_nb_see.csv
SELECT id, doc FROM dbnb_nb_see WHERE id <= 2 ORDER BY id""",
    ),
    ("code", 'print(open("../etc/data/dbnb_nb_see.csv").read())'),
    ("code", "%db --write DROP TABLE dbnb_nb_see"),
    ("code", "%%db local --write\nDROP TABLE see_orders"),
]

NOTEBOOKS["07_typing_frames_formats"] = [
    (
        "md",
        """# Help while typing, SQL over DataFrames, polars and Arrow results

**Tab completes** in `%db` lines and `%%db` cells: subcommands, connection
names, tables (with their schema) after `FROM`/`JOIN`/`INTO`/`UPDATE`/`TABLE`
and `describe`, columns after `table.` or `alias.` and wherever the `FROM`
clause names the table, and `:variables`. It runs in the kernel, through
IPython's own completer, so JupyterLab, Notebook, VS Code and terminal IPython
all get it. A notebook cannot press Tab, so this one asks the kernel's completer
directly, as a front end does.""",
    ),
    (
        "code",
        """%load_ext dbnb
from IPython.core.completer import provisionalcompleter


def tab(text, cursor=None):
    \"\"\"What Tab offers at `cursor` (default: the end) of a cell holding `text`.\"\"\"
    with provisionalcompleter():
        found = get_ipython().Completer.completions(text, len(text) if cursor is None else cursor)
        return [completion.text for completion in found]""",
    ),
    (
        "code",
        """%%db local --write
DROP TABLE IF EXISTS nb_orders;
DROP TABLE IF EXISTS nb_regions;
CREATE TABLE nb_orders (
    id INTEGER PRIMARY KEY, region_id INTEGER, total NUMERIC(10, 2), placed DATETIME
);
CREATE TABLE nb_regions (region_id INTEGER PRIMARY KEY, region TEXT);
INSERT INTO nb_regions VALUES (1, 'EU'), (2, 'US');
INSERT INTO nb_orders (region_id, total, placed) VALUES
    (1, 120.50, '2024-05-01 08:30:00'), (2, 80.00, '2024-05-02 12:00:00'), (1, 42.25, NULL);""",
    ),
    (
        "md",
        """The schema is read once per connection, in the background, and kept: a slow
or unreachable server never holds up typing (Tab answers within about 200 ms
with what it has). A `--write` cell that runs DDL, like the one above, and
`%db tables --refresh` read it again.""",
    ),
    ("code", "%db tables --refresh"),
    ("code", 'tab("%db ")'),
    ("code", 'tab("%db use ")'),
    ("code", 'tab("%%db local\\nSELECT * FROM nb_")'),
    ("code", 'cell = "%db SELECT o. FROM nb_orders o"\ntab(cell, cell.index("o.") + 2)'),
    ("code", 'tab("%db SELECT * FROM nb_orders JOIN nb_regions USING (region_id) WHERE re")'),
    ("code", 'wanted_region = "EU"\ntab("%db SELECT * FROM nb_regions WHERE region = :wanted")'),
    (
        "md",
        """## Results as pandas, polars or Arrow

`--as polars` or `--as arrow` (with `-o`) and `db.query(..., output=...)` give the
result in the frame library you work in, with the types kept: the decimal stays
a `decimal128(10, 2)`, the time stamp is UTC.""",
    ),
    (
        "code",
        """%%db local -o orders_pl --as polars
SELECT * FROM nb_orders ORDER BY id""",
    ),
    ("code", "orders_pl.schema"),
    (
        "code",
        """import dbnb

table = dbnb.connect("local").query("SELECT id, total, placed FROM nb_orders", output="arrow")
table.schema""",
    ),
    (
        "md",
        """## SQL over the notebook's DataFrames

`%%db frames` runs DuckDB over the notebook's pandas DataFrames, polars frames
and Arrow tables, by their variable names, with the same `-o`, `:name` binding,
display and history as any connection. It reads only: DuckDB's file access,
`COPY ... TO`, `ATTACH` and extensions are off, and no variable is written but
the `-o` one. `dbnb.query_frames(sql, {"name": frame})` does the same from Python.""",
    ),
    (
        "code",
        """import pandas as pd

regions_df = pd.DataFrame({"region_id": [1, 2], "manager": ["Ada", "Brian"]})
least = 50""",
    ),
    (
        "code",
        """%%db frames -o by_manager
SELECT manager, count(*) AS orders, sum(total) AS total
FROM orders_pl JOIN regions_df USING (region_id)
WHERE total > :least
GROUP BY manager ORDER BY manager""",
    ),
    ("code", "by_manager.dtypes"),
    ("code", "%%db frames\nCOPY regions_df TO 'regions.csv'", ERROR),
    (
        "md",
        "Each statement over frames is in the history, under the connection name `frames`:",
    ),
    ("code", 'dbnb.history(2)[["connection", "sql", "rows"]]'),
    ("code", "%%db local --write\nDROP TABLE nb_orders;\nDROP TABLE nb_regions;"),
]


NOTEBOOKS["08_explore_and_background"] = [
    (
        "md",
        """# Explore a result the database pages; run long queries in the background

`db.explore(source)` is a view of a table or of any read query that the database
pages, sorts, filters, searches and counts: the kernel holds one page, never the
result. In JupyterLab it shows as an interactive grid (click
a header to sort, type a filter under it, page with the arrows, Σ for a column's
summary, copy the view's SQL, export it to CSV or Parquet). Where no widget can show,
as here in a saved notebook, it shows its first page and the count.""",
    ),
    (
        "code",
        """%load_ext dbnb
import dbnb

db = dbnb.connect("local")""",
    ),
    (
        "code",
        """%%db local --write
DROP TABLE IF EXISTS nb_sales;
CREATE TABLE nb_sales (id INTEGER PRIMARY KEY, region TEXT NOT NULL, amount INTEGER NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO nb_sales SELECT i, CASE i % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' ELSE 'APAC' END,
    (i * 37) % 101 FROM n;""",
    ),
    (
        "code",
        """sales = db.explore("nb_sales", page_size=5)
sales""",
    ),
    (
        "md",
        """The same steps the grid takes, from Python: each returns the explorer, so they
chain, and each is one statement with its values bound.""",
    ),
    (
        "code",
        """sales.sort("amount", descending=True).filter("region", "=", "EU")
print(sales.count(), "rows in the view")
sales.page(0)""",
    ),
    ("code", """sales.summary("amount")"""),
    (
        "code",
        """sql, params = sales.sql()
print(sql)
print(params)""",
    ),
    (
        "md",
        """`%db explore TABLE` and `%%db NAME --explore` over a cell's query do the same
in a notebook.""",
    ),
    (
        "code",
        """%%db local --explore -o big
SELECT region, count(*) AS orders, sum(amount) AS total FROM nb_sales GROUP BY region""",
    ),
    (
        "md",
        """**A long query in the background.** `db.submit(...)` returns a `dbnb.Job` at
once (a `concurrent.futures.Future`); the notebook goes on, and `job.cancel()` stops
the statement on the server. `%%db NAME --bg -o VAR` does it from a cell and sets
`VAR` when the query ends; `%db jobs` lists the jobs and `%db cancel N` stops one.""",
    ),
    (
        "code",
        """job = db.submit("SELECT region, avg(amount) AS mean FROM nb_sales GROUP BY region ORDER BY region")
print(db.query("SELECT count(*) AS n FROM nb_sales"))  # meanwhile
job.result()""",
    ),
    (
        "code",
        """forever = db.submit(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000000) "
    "SELECT count(*) AS n FROM n"
)
forever.cancel()
print(forever.state)""",
    ),
    ("md", "The table goes, so the other notebooks find the file as they left it."),
    ("code", "%%db local --write\nDROP TABLE nb_sales"),
]


def run(name: str, cells: Cells, *, execute: bool = True) -> nbformat.NotebookNode:
    """The notebook ``name``, run top to bottom, with its outputs (``execute=False``:
    its cells alone, not run)."""
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, source, *tags in cells:
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        notebook.cells.append(cell)
    for variable in ("DBNB_CONFIG", "DATABASE_URL", "PGPASSWORD"):
        os.environ.pop(variable, None)
    if execute:
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
        ).execute()
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids: diffs show only real changes
    return notebook


def build(name: str, cells: Cells) -> Path:
    path = HERE / f"{name}.ipynb"
    text = nbformat.writes(run(name, cells))
    run_database = os.environ.get("PGDATABASE", "")
    if run_database.startswith("dbnb_nb_"):  # the run's own: saved as the config's default
        text = text.replace(f":5432/{run_database}", ":5432/test")
    path.write_text(text + "\n", encoding="utf-8")
    return path


# --- --check ------------------------------------------------------------------------

# What nbval leaves out of a comparison (nbval/plugin.py, IPyNbFile.skip_compare).
NOT_COMPARED = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "image/png",
    "image/jpeg",
    "application/vnd.jupyter.widget-view+json",
}


def sanitizers(path: Path = HERE / "sanitize.cfg") -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of nbval's sanitize file, in order."""
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    return [(parser[section]["regex"], parser[section]["replace"]) for section in parser.sections()]


def comparable(outputs: list[Any], patterns: list[tuple[str, str]]) -> dict[str, list[Any]]:
    """A cell's outputs as nbval compares them: by stream name or MIME type, sanitized."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
        return value

    streams: dict[str, str] = {}
    found: dict[str, list[Any]] = defaultdict(list)
    for output in outputs:
        if output["output_type"] == "stream":  # nbval joins the streams of one name
            streams[output["name"]] = streams.get(output["name"], "") + output["text"]
            continue
        for key, value in output.items():
            if key == "data":
                for mime, shown in value.items():
                    if mime not in NOT_COMPARED:
                        found[mime].append(clean(shown))
            elif key not in NOT_COMPARED:
                found[key].append(clean(value))
    for stream, text in streams.items():
        found[stream].append(clean(text))
    return dict(found)


def differences(
    built: nbformat.NotebookNode,
    saved: nbformat.NotebookNode,
    patterns: list[tuple[str, str]],
    *,
    outputs: bool = True,
) -> list[str]:
    """How ``saved`` differs from ``built``, one line each; none when they agree."""
    found = []
    if built.metadata.get("kernelspec") != saved.metadata.get("kernelspec"):
        found.append("the kernelspec differs")
    if len(built.cells) != len(saved.cells):
        found.append(f"{len(saved.cells)} cells, build.py writes {len(built.cells)}")
    for index, (new, old) in enumerate(zip(built.cells, saved.cells, strict=False)):
        where = f"cell {index} ({old.get('id')})"
        for key in ("cell_type", "id", "source"):
            if new.get(key) != old.get(key):
                found.append(f"{where}: its {key} differs")
        if new.metadata.get("tags") != old.metadata.get("tags"):
            found.append(f"{where}: its tags differ")
        shown = [comparable(cell.get("outputs", []), patterns) for cell in (new, old)]
        if outputs and shown[0] != shown[1]:
            found.append(f"{where}: its outputs differ")
    return found


def check(names: list[str], *, cells_only: bool = False) -> int:
    """Run the notebooks and compare them with the files; 1 when one differs or is missing.
    ``cells_only``: their cells, not run, and not their outputs (nbval compares those)."""
    patterns = sanitizers()
    failed = False
    for name in names:
        path = HERE / f"{name}.ipynb"
        if not path.is_file():
            print(f"{path.name}: missing; build.py writes it", file=sys.stderr)
            failed = True
            continue
        built = run(name, NOTEBOOKS[name], execute=not cells_only)
        saved = nbformat.read(path, as_version=4)
        found = differences(built, saved, patterns, outputs=not cells_only)
        for line in found:
            print(f"{path.name}: {line}", file=sys.stderr)
        failed = failed or bool(found)
        print(f"{path.name}: {'differs' if found else 'as build.py writes it'}")
    if failed:
        print("rebuild: .venv/bin/python notebooks/build.py, then commit", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "prefixes", nargs="*", metavar="PREFIX", help="only the notebooks whose name starts so"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a saved notebook differs from what build.py writes",
    )
    parser.add_argument(
        "--cells",
        action="store_true",
        help="with --check: compare the cells only, without running them (make test: nbval "
        "runs the notebooks and compares their outputs)",
    )
    args = parser.parse_args(argv)
    with own_databases():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    names = [
        name
        for name in NOTEBOOKS
        if not args.prefixes or any(name.startswith(prefix) for prefix in args.prefixes)
    ]
    if args.check:
        written = {HERE / f"{name}.ipynb" for name in NOTEBOOKS}
        strays = [] if args.prefixes else sorted(set(HERE.glob("*.ipynb")) - written)
        for stray in strays:  # a notebook build.py does not write is drift too
            print(f"{stray.name}: not written by build.py", file=sys.stderr)
        return max(check(names, cells_only=args.cells), 1 if strays else 0)
    for name in names:
        print("wrote", build(name, NOTEBOOKS[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
