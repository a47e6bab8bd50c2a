"""dbnb as a package (issue 28): ``python -m build`` makes an sdist and a wheel with the
compiled SQLite extension and the package data, and the wheel installed into a fresh
venv, outside the checkout, runs the quick start, the ``dbnb`` command and ``%load_ext
dbnb`` there. The version is written once, in ``dbnb.__version__``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

import dbnb

ROOT = Path(__file__).resolve().parent.parent
# What a checkout holds beside its sources, never part of a build (the build runs on a
# copy, so the checkout gets no build/ or egg-info of the test's).
JUNK = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache"
)
PACKAGE_DATA = (
    "dbnb/py.typed",
    "dbnb/notebook/grid.js",
    "dbnb/notebook/grid.css",
    "dbnb/devtools/migrate_template/alembic.ini",
    "dbnb/devtools/migrate_template/script.py.mako",
)
MYSQL_DRIVERS = ("pymysql", "aiomysql", "connectorx")
INFO = f"dbnb-{dbnb.__version__}.dist-info"

# The quick start with the SQLite default, as a user runs it from a folder of their own:
# a write session, a read with a bound value, a write refused on the read-only path,
# then a notebook's `%load_ext dbnb` and a `%db` line.
QUICK_START = """
import dbnb
from dbnb.backends.sqlite import adbc
from sqlalchemy import text

print("dbnb", dbnb.__version__, dbnb.__file__)
print("extension", adbc._EXTENSION)
db = dbnb.connect("local")
with db.session(write=True) as s:
    s.execute(text("CREATE TABLE shield (name TEXT, defense_rating INTEGER)"))
    s.execute(text("INSERT INTO shield VALUES ('Dragon Scale', 95), ('Oak Buckler', 20)"))
strong = db.query("SELECT name FROM shield WHERE defense_rating >= :minimum", {"minimum": 50})
print("strong", strong["name"].tolist())
print("path", dbnb.history()["path"].iloc[-1])
try:
    db.query("DELETE FROM shield")
except dbnb.ReadOnlyError as error:
    print("refused", error)

from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "dbnb")
result = shell.run_cell("%db SELECT count(*) AS shields FROM shield")
print("magic", result.success, result.result["shields"].tolist())
"""


def run(command: list[str], cwd: Path, timeout: float = 600) -> str:
    """``command``'s output; its error output in the failure when it fails."""
    # Nothing of the checkout's: not its PYTHONPATH, not the config of its tests.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DBNB_CONFIG")}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def not_sources(folder: str, names: list[str]) -> set[str]:
    """``shutil.copytree``'s ignore: the junk, and the demo's databases (etc/data)."""
    ignored = set(JUNK(folder, names))
    if Path(folder) == ROOT / "etc":
        ignored.add("data")
    return ignored


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel of a copy of the checkout, built as a release would be."""
    source = tmp_path_factory.mktemp("source") / "dbnb"
    shutil.copytree(ROOT, source, ignore=not_sources)
    out = tmp_path_factory.mktemp("dist")
    # The wheel is built from the sdist: what the sdist lacks, the wheel lacks too.
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], cwd=source)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (no site packages of the system or of the tests) with the wheel
    installed by pip, dependencies and all: its bin folder. Removed after the module:
    half a gigabyte, which pytest would otherwise keep for three runs."""
    home = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(home)], cwd=home)
    (wheel,) = dist.glob("*.whl")
    run([str(home / "bin" / "pip"), "install", "--quiet", str(wheel)], cwd=home)
    yield home / "bin"
    shutil.rmtree(home)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder, outside the checkout, whose etc/infra.yaml names a SQLite file."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "infra.yaml").write_text(
        "databases:\n  local:\n    type: sqlite\n    database: data/app.db\n"
    )
    return tmp_path


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "dbnb.__version__"}
    assert dbnb.__version__.count(".") == 2


@pytest.mark.slow
def test_the_wheel_holds_the_extension_and_the_package_data(dist: Path) -> None:
    (wheel,) = dist.glob("dbnb-*.whl")
    (sdist,) = dist.glob("dbnb-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(f"{INFO}/METADATA").decode())
    with tarfile.open(sdist) as archive:
        sources = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    extension = [name for name in names if name.startswith("dbnb/_sqlite_watch.")]
    assert len(extension) == 1  # compiled, without its source
    assert extension[0].endswith(".so")
    assert set(PACKAGE_DATA) <= names
    assert f"{INFO}/licenses/LICENSE" in names
    assert metadata["Version"] == dbnb.__version__
    assert metadata["License-Expression"] == "MIT"
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    # MariaDB/MySQL's drivers come with an extra only (mysql; connectorx with bench too).
    required = metadata.get_all("Requires-Dist")
    drivers = [each for each in required if each.lower().startswith(MYSQL_DRIVERS)]
    assert len(drivers) == 4
    assert all("extra ==" in each for each in drivers)
    assert {"dbnb/_sqlite_watch.c", "LICENSE", "CHANGELOG.md", "README.md"} <= sources


@pytest.mark.slow
def test_the_quick_start_runs_from_the_installed_wheel(venv: Path, project: Path) -> None:
    site = venv.parent / "lib"
    lines = run([str(venv / "python"), "-c", QUICK_START], cwd=project).splitlines()
    # The lines the script printed, by their first word (the %db cell shows its result too).
    found = {word: rest for word, _, rest in (line.partition(" ") for line in lines)}
    version, path = found["dbnb"].split(" ")
    assert version == dbnb.__version__
    assert Path(path).is_relative_to(site)  # the wheel's dbnb, not the checkout's
    assert Path(found["extension"]).is_relative_to(site)
    assert found["strong"] == "['Dragon Scale']"
    assert found["path"] == "columnar"  # the SQLite file read through the extension
    assert found["refused"].startswith("connection 'local' is read-only here: DELETE")
    assert found["magic"] == "True [2]"
    assert (project / "etc" / "data" / "app.db").is_file()  # relative to the config file


@pytest.mark.slow
def test_the_dbnb_command_runs_from_the_installed_wheel(venv: Path, project: Path) -> None:
    assert run([str(venv / "dbnb"), "--help"], cwd=project).startswith("usage: dbnb")
    assert "local" in run([str(venv / "dbnb"), "list"], cwd=project)
    demo = run([str(venv / "dbnb"), "demo"], cwd=project)
    assert "Dragon Scale" in demo
    # Nothing in the venv but what the wheel asks for, and all of it consistent.
    run([str(venv / "pip"), "check"], cwd=project)
    installed = run([str(venv / "pip"), "list", "--format=freeze"], cwd=project).lower()
    assert not [name for name in MYSQL_DRIVERS if f"\n{name}==" in f"\n{installed}"]
