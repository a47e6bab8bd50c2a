# Two commands on a fresh machine:
#   make demo   installs dbnb (no dev tools) into .venv and runs the demo on the embedded SQLite default
#   make test   installs dbnb with its dev tools and runs ruff, mypy, the manual's build, the whole test suite and the notebooks
# and, while editing, make test-fast: the SQLite and pure tests alone, no server needed;
# make lab opens the example notebooks in JupyterLab, from the same venv; make docs serves the manual.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint install docs lab

# Two stamps: the runtime (what `make demo` needs: dbnb and its dependencies, no dev
# tools) and the dev tools on top (what `make test` needs). A venv made by `make demo`
# gets the dev tools at the first `make test`; a change to pyproject.toml redoes both.
$(VENV)/.runtime: pyproject.toml dbnb/_sqlite_watch.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# What the example notebooks use (JupyterLab, jupysql, plots, polars, DuckDB); dev has it.
$(VENV)/.examples: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.dev

demo: $(VENV)/.runtime
	$(PY) -m dbnb.devtools.demo

# The notebooks' connections are the project's etc/infra.yaml: SQLite needs nothing, the
# PostgreSQL cells the server of `make test` (127.0.0.1:5432, database $${PGDATABASE:-test}).
# Jupyter refuses to start as root unless told (containers and CI machines run as root).
lab: $(VENV)/.examples
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

lint: install
	$(VENV)/bin/ruff check dbnb tests bench
	$(VENV)/bin/ruff format --check dbnb tests bench
	$(VENV)/bin/mypy dbnb
	$(VENV)/bin/lint-imports
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The notebooks run too: build.py --check --cells fails when a saved notebook's cells are
# not what notebooks/build.py writes, and nbval executes each and compares its outputs with
# the saved ones (so the notebooks run once, not twice).
test: lint
	$(PY) notebooks/build.py --check --cells
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

# The tests outside every tier of tests/conftest.py (no PostgreSQL, MariaDB or Spark, no
# kernel or other slow process): no lint, no notebooks.
test-fast: install
	$(PY) -m pytest -m "not postgresql and not mysql and not spark and not slow"

# The manual (docs/, mkdocs.yml), served at http://127.0.0.1:8000 and rebuilt as it is edited.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve
