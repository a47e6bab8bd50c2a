"""The README and the manual run as written: every fenced block of README.md and of
every page of docs/ is executed or checked.

Each block is claimed by one kind of check, by its fence's language:

- ```python and ``` with no language (a notebook): run in order, page by page, as a
  reader pasting a page's blocks into one notebook would. Each page has a project
  folder of its own, the current folder while its blocks run, whose
  ``etc/infra.yaml`` is the manual's config (the first yaml block of
  docs/connections.md) plus the entries of the project's ``etc/infra.yaml`` it lacks
  (``postgres``, ``replica``); its PostgreSQL connections point at a throwaway
  database of the page's own on the test server, seeded with the ``orders`` and
  ``events`` tables that the blocks read as a warehouse's; the variables the YAML
  needs (``${VAR}``) are set. So a block may read a table an earlier block of its
  page made. A python block runs in a fresh namespace, top-level ``await`` as in a
  notebook cell. A notebook block runs cell by cell (a blank line ends a cell) in a
  real IPython shell that keeps the page's variables and loaded extensions until the
  next page starts; a line commented ``# SomeError: ...`` must raise that error, and
  ends its cell. A python block that starts with ``# tests/NAME.py`` is a test file
  of the user's: it runs under pytest, with the ```ini settings of its section.
- ```yaml: read by dbnb's own loaders (connections, ``pgserver:``,
  ``migrations:``), in a folder of its own; a fragment of ``databases:`` entries
  (indented; ``...`` stands for the entry's keys in the manual's config) is loaded
  with them and each of its connections runs a query.
- ```sh: make targets exist (``make -n``), ``dbnb`` command lines parse with
  the CLI's parser and their command has ``--help``, scripts exist and parse
  ``--help``. Nothing long runs.
- ```ini: pytest settings of dbnb's plugin, run with the test file they serve.
- ```toml: a package's registration of a backend (``[project.entry-points."dbnb.backends"]``):
  installed in a temp folder with the package its section's python block writes
  (that block's first line names its file), a fresh interpreter finds each backend
  by its name.
- ```text: not code. The error tree is checked against dbnb's classes, the
  ValidationError sample is reproduced, listed paths must exist, the Layout lists
  every module, the ``%db?`` help is the magic's docstring.

A failure names the page and line of its block (``docs/python.md:LINE``), and a
python block's traceback shows that page and its lines.
"""

from __future__ import annotations

import ast
import asyncio
import configparser
import inspect
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell
from IPython.terminal.interactiveshell import TerminalInteractiveShell
from IPython.testing.globalipapp import start_ipython
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import dbnb
from dbnb import cli
from dbnb.backends import registry
from dbnb.config import pgserver as pgserver_config
from dbnb.devtools import demo, migrate, testing
from tests import manual
from tests.fixtures import PG_ADMIN
from tests.manual import ROOT, Block
from tests.test_bad_input import BAD_INPUTS

BLOCKS = list(manual.all_blocks())
PAGES = [manual.name_of(path) for path in manual.pages()]


def blocks(language: str, claim: Callable[[Block], bool] = lambda block: True) -> list[Block]:
    return [block for block in BLOCKS if block.language == language and claim(block)]


def is_test_file(block: Block) -> bool:
    return re.match(r"# tests/\S+\.py\n", block.text) is not None


PYTHON = blocks("python", lambda block: not is_test_file(block))
TEST_FILES = blocks("python", is_test_file)
NOTEBOOK = blocks("")
YAML = blocks("yaml")
SH = blocks("sh")
INI = blocks("ini")
TEXT = blocks("text")
TOML = blocks("toml")
# What runs, page by page, in the order a reader meets it.
CODE = [block for block in BLOCKS if block in PYTHON or block in NOTEBOOK]


def ids(found: list[Block]) -> list[str]:
    return [block.where for block in found]


def same_page(block: Block, found: list[Block]) -> list[Block]:
    return [other for other in found if other.path == block.path]


@pytest.mark.parametrize("page", PAGES)
def test_every_block_is_run_or_checked(page: str) -> None:
    claimed = PYTHON + TEST_FILES + NOTEBOOK + YAML + SH + INI + TEXT + TOML
    here = [block for block in BLOCKS if block.path == page]
    unclaimed = [f"{block.where} ```{block.language}" for block in here if block not in claimed]
    assert not unclaimed, "fence each block as python, yaml, sh, ini or text (or none: notebook)"
    for block in here:  # an unlabelled block is a notebook: it has magics
        if block in NOTEBOOK:
            assert re.search(r"^%", block.text, re.MULTILINE), f"{block.where}: label it ```text"


def test_the_manual_has_each_kind_of_block() -> None:
    for kind in (PYTHON, NOTEBOOK, YAML, SH, TEST_FILES, INI, TEXT, TOML):
        assert kind
    # The blocks other checks stand on are there, once each: moving one keeps its check.
    for starts in ("DbnbError\n", "dbnb/__init__.py", "table '", "Query a named dbnb connection"):
        found = [block.where for block in TEXT if block.text.startswith(starts)]
        assert len(found) == 1, (starts, found)


# --- the projects the blocks run in -------------------------------------------------


def seed_warehouse(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, region text NOT NULL,"
            " total double precision NOT NULL);"
            "INSERT INTO orders (region, total)"
            " VALUES ('EU', 120.5), ('US', 80), ('EU', 42.25);"
            "CREATE TABLE events (id serial PRIMARY KEY, day date NOT NULL,"
            " kind text NOT NULL);"
            "INSERT INTO events (day, kind) SELECT date '2024-05-01' + n % 3, 'click'"
            " FROM generate_series(1, 10) AS n"
        )


class Pages:
    """Each page's warehouse (a throwaway PostgreSQL database with the tables the blocks
    read as a warehouse's) and project folder, made when the page first needs them."""

    def __init__(self, pg_admin: str, folders: pytest.TempPathFactory, stack: ExitStack) -> None:
        self.pg_admin, self.folders, self.stack = pg_admin, folders, stack
        self.warehouses: dict[str, str] = {}
        self.projects: dict[str, Path] = {}

    def warehouse(self, page: str) -> str:
        if page not in self.warehouses:
            try:
                made = testing.throwaway_pg_database(self.pg_admin, "dbnb_readme")
                name = self.stack.enter_context(made)
            except dbnb.DbnbError as error:
                if os.environ.get("CI"):
                    pytest.fail(str(error))
                pytest.skip(str(error))
            url = testing.database_url(self.pg_admin, name)
            seed_warehouse(url.replace("postgresql+psycopg", "postgresql"))
            self.warehouses[page] = name
        return self.warehouses[page]

    def fresh(self, page: str) -> Path:
        """A new project folder whose etc/infra.yaml is the manual's config."""
        folder = self.folders.mktemp("project")
        (folder / "etc").mkdir()
        config = project_config(self.warehouse(page))
        (folder / "etc" / "infra.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        return folder

    def project(self, page: str) -> Path:
        """The page's own project folder, kept while its blocks run."""
        if page not in self.projects:
            self.projects[page] = self.fresh(page)
        return self.projects[page]


@pytest.fixture(scope="module")
def pages(pg_admin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pages]:
    with ExitStack() as stack:
        yield Pages(pg_admin, tmp_path_factory, stack)


def point_at(entry: dict[str, Any], database: str) -> None:
    """A PostgreSQL entry of a config, pointed at ``database`` on the test server."""
    server = make_url(PG_ADMIN)
    if entry.get("type") == "postgresql":
        entry.update(host=server.host, port=server.port or 5432, database=database)
        entry["user"] = server.username
    elif str(entry.get("url", "")).startswith("postgresql"):
        entry["url"] = server.set(drivername="postgresql", database=database).render_as_string(
            hide_password=False
        )


def project_config(database: str) -> dict[str, Any]:
    """The manual's config, with the project's own entries it lacks, on the test server."""
    config: dict[str, Any] = yaml.safe_load(manual.config_yaml())
    own = yaml.safe_load((ROOT / "etc" / "infra.yaml").read_text(encoding="utf-8"))
    for name, entry in own["databases"].items():
        config["databases"].setdefault(name, entry)
    for entry in config["databases"].values():
        point_at(entry, database)
    return config


def page_of(request: pytest.FixtureRequest) -> str:
    """The page of the block a test runs, else the README."""
    callspec = getattr(request.node, "callspec", None)
    block = callspec.params.get("block") if callspec is not None else None
    return block.path if isinstance(block, Block) else "README.md"


@contextmanager
def entered(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``folder`` as the current project: its folder, the variables and secrets its
    config reads."""
    every_yaml = "".join(block.text for block in YAML)
    for variable in set(re.findall(r"\$\{(\w+)\}", every_yaml)):  # no default: must be set
        monkeypatch.setenv(variable, "set-by-test_readme")
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")  # jupysql's usage statistics: off
    monkeypatch.chdir(folder)
    with readme_secrets(folder / "etc", monkeypatch):
        yield folder


@pytest.fixture
def project(
    request: pytest.FixtureRequest, pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A project folder of the test's own, the current one, on its page's warehouse."""
    with entered(pages.fresh(page_of(request)), monkeypatch) as folder:
        yield folder


@pytest.fixture
def page_project(
    request: pytest.FixtureRequest, pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The project folder of the block's page, shared by the page's blocks, the current one."""
    with entered(pages.project(page_of(request)), monkeypatch) as folder:
        yield folder


@contextmanager
def readme_secrets(etc: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the manual's secrets by reference read: its files beside the config, its
    keyring entries in a keyring of the test's own (keyrings.alt's file, never the user's)."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(etc.parent / "keyring-data"))
    before = keyring.get_keyring()
    keyring.set_keyring(PlaintextKeyring())
    try:
        for block in YAML:
            if block.text.startswith(" "):  # a fragment: no secrets there
                continue
            entries = (yaml.safe_load(block.text) or {}).get("databases") or {}
            for name, entry in entries.items() if isinstance(entries, dict) else ():
                for value in map(str, (entry or {}).values()):
                    for service, user in re.findall(r"\$\{keyring(?::([^/}]+)/([^}]+))?\}", value):
                        keyring.set_password(service or "dbnb", user or name, "set-by-test_readme")
                    for relative in re.findall(r"\$\{file:([^}]+)\}", value):
                        (etc / relative).parent.mkdir(parents=True, exist_ok=True)
                        (etc / relative).write_text("set-by-test_readme\n")
                for relative in (entry or {}).get("option_files", "").split():
                    (etc / relative).parent.mkdir(parents=True, exist_ok=True)
                    (etc / relative).write_text("[client]\nuser = shop\n")
        yield
    finally:
        keyring.set_keyring(before)


# --- python and notebooks, page by page ----------------------------------------


RUNS = itertools.count()


def run_python(block: Block, then: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run a python block as a new module; ``then`` sees its namespace."""
    # A module of its own, each time: SQLAlchemy warns when a module declares a class twice.
    namespace: dict[str, Any] = {"__name__": f"readme_{block.line}_{next(RUNS)}"}
    source = "\n" * block.line + block.text  # tracebacks show the page's own line numbers
    code = compile(source, str(ROOT / block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    tables = set(SQLModel.metadata.tables)
    try:
        if code.co_flags & inspect.CO_COROUTINE:  # top-level await, as in a notebook cell
            asyncio.run(eval(code, namespace))
        else:
            exec(code, namespace)
        if then is not None:
            then(namespace)
    except Exception as error:
        raise AssertionError(f"{block.where}: {type(error).__name__}: {error}") from error
    finally:
        # Each block declares its models afresh, as a new notebook would.
        for name in set(SQLModel.metadata.tables) - tables:
            SQLModel.metadata.remove(SQLModel.metadata.tables[name])


@dataclass(frozen=True)
class Cell:
    line: int
    source: str
    raises: str | None  # the name of the error this cell must raise


RAISES = re.compile(r"#\s*(\w+(?:Error|Exception)):")


def notebook_cells(block: Block) -> list[Cell]:
    """The cells of a notebook block: a blank line ends one, and so does a line that raises."""
    cells: list[Cell] = []
    lines: list[tuple[int, str]] = []

    def end(raises: str | None = None) -> None:
        if lines:
            cells.append(Cell(lines[0][0], "\n".join(line for _, line in lines), raises))
            lines.clear()

    for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
        if not line.strip():
            end()
            continue
        lines.append((number, line))
        marked = RAISES.search(line)
        if marked and not lines[0][1].startswith("%%"):
            end(marked[1])
    end()
    return cells


class Notebook:
    """The real test shell the notebook blocks run in: one notebook per page. It starts
    with no dbnb loaded (a page's first block loads it, as a new notebook would) and keeps
    the page's variables and extensions until another page starts; then all is undone."""

    def __init__(self) -> None:
        self.page: str | None = None
        self.before: set[str] = set()

    def shell(self, page: str) -> InteractiveShell:
        self.turn_to(page)
        if self.page is None:
            start_ipython()
            ip = TerminalInteractiveShell.instance()
            if "dbnb" in ip.extension_manager.loaded:
                ip.run_line_magic("unload_ext", "dbnb")
            self.page, self.before = page, set(ip.user_ns)
        return TerminalInteractiveShell.instance()

    def turn_to(self, page: str) -> None:
        """Another page's block runs: this page's notebook ends."""
        if self.page is None or self.page == page:
            return
        ip = TerminalInteractiveShell.instance()
        loaded = ip.extension_manager.loaded
        if "sql" in loaded:
            from sql.connection import ConnectionManager

            ConnectionManager.close_all()
            ip.run_line_magic("config", "SqlMagic.autocommit = True")
        if "dbnb" in loaded:
            ip.run_line_magic("unload_ext", "dbnb")  # closes the magic's pools
        ip.config.pop("DbMagics", None)
        for name in set(ip.user_ns) - self.before:
            del ip.user_ns[name]
        self.page = None


@pytest.fixture(scope="module")
def notebook(pages: Pages) -> Iterator[Notebook]:
    """Ended before the pages' databases are dropped: it holds connections to them."""
    shell = Notebook()
    yield shell
    shell.turn_to("")


def run_notebook(block: Block, shell: InteractiveShell) -> None:
    for cell in notebook_cells(block):
        result = shell.run_cell(cell.source)
        error = result.error_before_exec or result.error_in_exec
        where = f"{block.path}:{cell.line}"
        if cell.raises is None:
            assert error is None, f"{where}: {type(error).__name__}: {error}"
        else:
            kinds = {kind.__name__ for kind in type(error).__mro__} if error else set()
            assert cell.raises in kinds, f"{where}: {cell.raises} expected: {error!r}"


@pytest.mark.parametrize("block", CODE, ids=ids(CODE))
def test_code_block_runs(block: Block, page_project: Path, notebook: Notebook) -> None:
    if block.language == "python":
        notebook.turn_to(block.path)
        run_python(block)
    else:
        run_notebook(block, notebook.shell(block.path))


def test_a_notebook_cell_ends_at_a_blank_line_or_an_error() -> None:
    block = Block(
        "page.md",
        10,
        "",
        "%db\nx = 1\n\n%%db a\nSELECT 1  # QueryError: no\n\n%db x  # E2Error: y\nz\n",
        "",
    )
    assert notebook_cells(block) == [
        Cell(11, "%db\nx = 1", None),
        Cell(14, "%%db a\nSELECT 1  # QueryError: no", None),
        Cell(17, "%db x  # E2Error: y", "E2Error"),
        Cell(18, "z", None),
    ]


def writing_block(page: str) -> Block:
    """The page's python block that declares the Shield model and writes with it."""
    found = [block for block in PYTHON if block.path == page and "class Shield" in block.text]
    assert found, f"{page}: no python block declares Shield"
    return found[0]


def check_validation_sample(sample: Block) -> None:
    """The ValidationError a page shows is the one its Shield model raises."""

    def write_a_long_name(namespace: dict[str, Any]) -> None:
        names = ["Buckler"] * 13 + ["x" * 41]  # row 13 breaks the model's max_length=40
        frame = pd.DataFrame({"name": names, "defense_rating": range(14)})
        with pytest.raises(dbnb.ValidationError) as caught:
            namespace["db"].write(frame, namespace["Shield"])
        assert str(caught.value) == sample.text.strip(), sample.where

    run_python(writing_block(sample.path), then=write_a_long_name)


def test_the_demo_runs_after_the_manual_and_again(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_python(writing_block(manual.name_of(manual.WRITE_PAGE)))  # `shield`, the user's rows
    local = dbnb.connect("local")
    shields = "SELECT name, defense_rating FROM shield ORDER BY name"
    before = local.query(shields)
    capsys.readouterr()
    for _ in range(2):
        assert demo.main("local") == 0
        shown = capsys.readouterr()
        assert "shields still there: 3" in shown.out, shown
        assert shown.err == ""
    pd.testing.assert_frame_equal(local.query(shields), before)  # the user's rows, untouched
    with local.session(write=True) as session:  # a row of the user's in the demo's table
        session.execute(text(f"INSERT INTO {demo.TABLE} (name, defense_rating) VALUES ('Mine', 1)"))
    assert demo.main("local") == 0
    assert "shields still there: 4" in capsys.readouterr().out
    # The demo's close_all closed ``local`` (its registry's); its use after reopened
    # pools of its own, which only its owner closes (else the garbage collector would,
    # in whatever test runs then, with ADBC's "not explicitly close()d" warning).
    local.close()


# --- a test file of the user's, with its page's pytest settings -------------------

APP = {
    "myapp/__init__.py": "",
    "myapp/models.py": """
from sqlmodel import Field, SQLModel


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    body: str
""",
    "myapp/notes.py": """
from myapp.models import Note


def save_note(session, body):
    session.add(Note(body=body))
    session.commit()
""",
}


@pytest.mark.parametrize("block", TEST_FILES, ids=ids(TEST_FILES))
def test_test_file_passes_with_the_plugin_settings(block: Block, project: Path) -> None:
    (settings,) = [ini for ini in same_page(block, INI) if ini.section == block.section]
    path = re.match(r"# (tests/\S+\.py)\n", block.text)
    assert path is not None
    files = {"pytest.ini": settings.text, path[1]: block.text, **APP}
    for name, content in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path[1]],
        cwd=project,
        env={**environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    passed = len(re.findall(r"^def test_", block.text, re.MULTILINE))
    shown = f"{block.where} with {settings.where}:\n{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, shown
    assert f"{passed} passed" in done.stdout, shown


@pytest.mark.parametrize("block", INI, ids=ids(INI))
def test_ini_block_sets_the_plugin(block: Block) -> None:
    parser = configparser.ConfigParser()
    parser.read_string(block.text)
    assert set(parser["pytest"]) <= set(testing._SETTINGS), block.where
    assert any(test.section == block.section for test in same_page(block, TEST_FILES)), (
        f"{block.where}: no test file in its section runs with it"
    )


# --- yaml ---------------------------------------------------------------------------


def fragment_config(block: Block, database: str) -> dict[str, Any]:
    """A fragment of `databases:` entries as a whole config; `...` is the entry's keys in
    the manual's config."""
    elided = re.search(r"^\s*\.\.\.\s*$", block.text, re.MULTILINE) is not None
    entries = yaml.safe_load(
        "databases:\n" + re.sub(r"^\s*\.\.\.\s*\n", "", block.text, flags=re.MULTILINE)
    )["databases"]
    known = project_config(database)["databases"]
    for name, entry in entries.items():
        if elided:
            assert name in known, f"{block.where}: '...' but no entry {name!r} to take keys from"
            entries[name] = {**known[name], **entry}
        point_at(entries[name], database)
    return {"databases": entries}


@pytest.mark.parametrize("block", YAML, ids=ids(YAML))
def test_yaml_block_is_a_config_dbnb_reads(block: Block, project: Path, pages: Pages) -> None:
    warehouse = pages.warehouse(block.path)
    path = project / "etc" / "infra.yaml"
    fragment = block.text.startswith(" ")
    if fragment:
        path.write_text(yaml.safe_dump(fragment_config(block, warehouse), sort_keys=False))
    else:
        path.write_text(block.text)
    document = yaml.safe_load(path.read_text())
    sections = {"default", "databases", "pgserver", "migrations"}
    assert set(document) <= sections, f"{block.where}: sections dbnb does not read"
    config = dbnb.load_config(path)
    problems = {name: str(config.problem(name)) for name in config.problems}
    assert not problems, f"{block.where}: {problems}"
    assert list(config.names) == list(document.get("databases") or {})
    if "pgserver" in document:
        server = pgserver_config.parse_pgserver(path.read_text(), path=path)
        assert server is not None
        assert server.name == document["pgserver"]["name"], block.where
    if "migrations" in document:
        settings = migrate.read_settings(config)
        assert settings.models == document["migrations"]["models"], block.where
    if fragment:  # a connection of its own: it answers
        registry = dbnb.Registry(config)
        try:
            for name in config.names:
                assert registry.connect(name).query("SELECT 1 AS one")["one"].tolist() == [1]
        finally:
            registry.close()


# --- sh -----------------------------------------------------------------------------


def command_lines(block: Block) -> list[tuple[int, list[str]]]:
    """Each command of a sh block, with its line: continuations joined, comments dropped."""
    found: list[tuple[int, list[str]]] = []
    pending, start = "", 0
    for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
        start = start or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words = shlex.split(pending + line, comments=True)
        if words:
            found.append((start, words))
        pending, start = "", 0
    return found


def alternatives(words: list[str]) -> list[list[str]]:
    """`dbnb server start|stop|status` is three command lines."""
    for index, word in enumerate(words):
        if re.fullmatch(r"\w+(\|\w+)+", word):
            return [
                line
                for choice in word.split("|")
                for line in alternatives([*words[:index], choice, *words[index + 1 :]])
            ]
    return [words]


def check_make(where: str, targets: list[str]) -> None:
    for target in targets:
        done = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{where}: make {target}: {done.stderr.strip()}"


def check_dbnb(where: str, words: list[str]) -> None:
    assert shutil.which("dbnb", path=Path(sys.executable).parent), "the dbnb script"
    for argv in alternatives(words):
        parser = cli.build_parser()
        with redirect_stdout(StringIO()) as shown:
            try:
                parser.parse_args(argv[1:])
            except SystemExit as exit_:
                raise AssertionError(f"{where}: {shlex.join(argv)} does not parse") from exit_
            with pytest.raises(SystemExit) as helped:
                parser.parse_args([argv[1], "--help"])
        assert helped.value.code == 0, where
        assert "example:" in shown.getvalue(), where


def check_script(where: str, words: list[str]) -> None:
    script = ROOT / words[1]
    assert script.is_file(), f"{where}: no {words[1]}"
    done = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{where}: {words[1]} --help: {done.stderr.strip()}"


def starts_scripts(block: Block) -> bool:
    """The block runs the project's scripts: a process each, so the check is slow."""
    return any(words[0] == ".venv/bin/python" for _, words in command_lines(block))


SH_PARAMS = [
    pytest.param(block, marks=pytest.mark.slow) if starts_scripts(block) else block for block in SH
]


@pytest.mark.parametrize("block", SH_PARAMS, ids=ids(SH))
def test_sh_block_commands_exist(block: Block) -> None:
    for line, words in command_lines(block):
        where = f"{block.path}:{line}"
        if words[0] == "make":
            check_make(where, words[1:])
        elif words[0] == "dbnb":
            check_dbnb(where, words)
        elif words[0] == ".venv/bin/python":  # the project's interpreter: this one
            check_script(where, words)
        else:
            pytest.fail(f"{where}: {words[0]}: a command this test does not know")


# --- text ---------------------------------------------------------------------------


def error_subclasses(kind: type[Exception]) -> Iterator[type[Exception]]:
    for sub in kind.__subclasses__():
        yield sub
        yield from error_subclasses(sub)


def check_error_tree(block: Block) -> None:
    """Each class of the tree exists in dbnb, under its parent; every error is drawn."""
    drawn: list[str] = []
    parents: list[type[Exception]] = []
    for line in block.text.splitlines():
        match = re.match(r"(?P<branch>[ │├└─]*)(?P<name>\w+)", line)
        assert match is not None, f"{block.where}: {line!r}"
        depth = len(match["branch"]) // 5
        kind = getattr(dbnb, match["name"], None)
        assert isinstance(kind, type), f"{block.where}: dbnb.{match['name']} does not exist"
        if depth:
            assert parents[depth - 1] in kind.__bases__, f"{block.where}: {match['name']}'s parent"
        parents[depth:] = [kind]
        drawn.append(match["name"])
    assert drawn[0] == "DbnbError"
    assert sorted(drawn[1:]) == sorted(kind.__name__ for kind in error_subclasses(dbnb.DbnbError))


def check_paths(block: Block) -> None:
    for line in block.text.splitlines():
        path = line.split()[0]
        assert (ROOT / path).exists(), f"{block.where}: {path} does not exist"


def check_layout(block: Block) -> None:
    """The Layout section: layers under headings, every listed path real, and every
    module of the package listed."""
    listed = set()
    for line in block.text.splitlines():
        if re.match(r"[\w.-]+/", line):
            path = line.split()[0]
            assert (ROOT / path).exists(), f"{block.where}: {path} does not exist"
            listed.add(path)
    modules = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "dbnb").rglob("*.py")
        # A template copied into projects is no module of dbnb's; a sub-package's
        # __init__ that only names it is its heading.
        if "migrate_template" not in path.parts
        and not (path.name == "__init__.py" and len(path.read_text().splitlines()) <= 1)
    }
    missing = sorted(modules - listed)
    assert not missing, f"{block.where}: the Layout does not list {', '.join(missing)}"


def check_magic_help(block: Block) -> None:
    """The magics' reference shows ``%db?``'s text: the magic's docstring, as it is."""
    from dbnb.notebook import magics

    source = Path(magics.__file__).read_text(encoding="utf-8")
    (docstring,) = [
        ast.get_docstring(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "db"
    ]
    assert block.text.strip() == docstring, f"{block.where}: not the %db docstring"


@pytest.mark.parametrize("block", TEXT, ids=ids(TEXT))
def test_text_block_is_true(block: Block, project: Path) -> None:
    if block.text.startswith("DbnbError\n"):
        check_error_tree(block)
    elif block.text.startswith("table '"):
        check_validation_sample(block)
    elif all(re.match(r"[\w.-]+/", line) for line in block.text.splitlines()):
        check_paths(block)
    elif block.text.startswith("dbnb/__init__.py"):
        check_layout(block)
    elif block.text.startswith("Query a named dbnb connection"):
        check_magic_help(block)
    else:
        pytest.fail(f"{block.where}: a text block this test does not know how to check")


# --- toml ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", TOML, ids=ids(TOML))
def test_toml_block_registers_a_backend(block: Block, tmp_path: Path) -> None:
    points = tomllib.loads(block.text)["project"]["entry-points"][registry.GROUP]
    assert points, f"{block.where}: no backend registered"
    for path, code in (
        (match[1], other.text)
        for other in same_page(block, PYTHON)
        if other.section == block.section and (match := re.match(r"# ([\w/]+\.py)\b", other.text))
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(code)
    info = tmp_path / "readme_example-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: readme-example\nVersion: 1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in points.items())
    (info / "entry_points.txt").write_text(f"[{registry.GROUP}]\n{lines}")
    check = (
        "from dbnb.backends.base import Backend\n"
        "from dbnb.backends.registry import backend_for\n"
        f"for name in {sorted(points)!r}:\n"
        "    found = type(backend_for(name))\n"
        "    assert issubclass(found, Backend), found\n"
        "    print(name, f'{found.__module__}:{found.__qualname__}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
    )
    assert done.returncode == 0, f"{block.where}: {done.stderr}"
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert found == points, f"{block.where}: {found}"


# --- the table of bad inputs --------------------------------------------------------


def bad_input_rows() -> list[tuple[str, str, str]]:
    """(bad input, error, message) of each row of the manual's "Bad input" table."""
    section = manual.section(manual.ERRORS_PAGE, "Bad input")
    found = []
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] != "bad input":
            found.append((cells[0], cells[1], cells[2]))
    return found


def named_backend(message: str) -> list[str]:
    """The kind of database a row's message names (by connection), else both kinds."""
    named = re.match(r"(\w+): ", message) or re.search(r"connection '(\w+)'", message)
    entries = yaml.safe_load(manual.config_yaml())["databases"]
    if named is None or named[1] not in entries:  # a config case's own connection `a`
        return ["sqlite", "postgresql"]
    entry = entries[named[1]]
    return [entry.get("type") or make_url(entry["url"]).get_backend_name()]


ITEMS = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"  # as test_bad_input's


def test_bad_input_table_shows_what_dbnb_prints(tmp_path: Path, pages: Pages) -> None:
    warehouse = pages.warehouse(manual.name_of(manual.ERRORS_PAGE))
    config = tmp_path / "etc" / "infra.yaml"
    config.parent.mkdir()
    connections = project_config(warehouse)["databases"]
    kinds = {"sqlite": "local", "postgresql": "warehouse"}
    connections = {name: connections[name] for name in kinds.values()}
    connections["warehouse"].pop("readonly")  # the cases fill `items` through it first
    config.write_text(yaml.safe_dump({"databases": connections}))
    registry = dbnb.Registry(dbnb.load_config(config, environ={"WAREHOUSE_PASSWORD": "x"}))
    cases = tmp_path / "cases"
    cases.mkdir()
    rows = bad_input_rows()
    assert [row[0] for row in rows] == list(BAD_INPUTS)
    try:
        for name, error, message in rows:
            pattern = ".*".join(re.escape(part) for part in message.split("..."))
            for backend in named_backend(message):
                db = registry.connect(kinds[backend])
                with db.session(write=True) as session:
                    session.execute(text("DROP TABLE IF EXISTS items"))
                    session.execute(text(ITEMS))
                    session.execute(
                        text("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'x')")
                    )
                case = BAD_INPUTS[name][0]
                with pytest.raises(dbnb.DbnbError) as caught:
                    case(db, cases)
                # The cases' names stand for the manual's: their config file for the
                # user's etc/infra.yaml, their unset variable for X.
                shown = str(caught.value).replace(f"{cases}/bad.yaml", "etc/infra.yaml")
                shown = shown.replace(f"{cases}/", "").replace("NOT_SET_ANYWHERE", "X")
                assert type(caught.value).__name__ == error, (name, backend, caught.value)
                assert re.fullmatch(pattern, shown, re.DOTALL), (name, backend, shown)
    finally:
        registry.close()
