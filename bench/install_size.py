"""What installing dbnb costs: disk per extra, and the time of a first SQLite read.

    .venv/bin/python -m bench.install_size [--wheel PATH] [--extras mysql,spark,...]

Builds the wheel (``python -m build`` on a copy of the checkout) unless one is given,
then for dbnb alone and for each extra makes a fresh venv, installs the wheel there with
pip and measures its site-packages (``du -sk``, less an empty venv's pip and
setuptools). For dbnb alone it also lists what each installed distribution weighs
(its RECORD's files), and times ``import dbnb``, ``dbnb.connect()`` of a SQLite file
and its first query in fresh interpreters (median of 5), with the packages that take
the most of that time by ``-X importtime``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("mysql", "spark", "duckdb", "plots")
JUNK = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache", "data"
)
# Each installed distribution's top-level files and folders in site-packages, from its
# RECORD (run inside the measured venv); measured by du, with the bytecode pip compiled.
TOPS = """
import importlib.metadata as m
for d in m.distributions():
    tops = {f.parts[0] for f in d.files or () if f.parts[0] != ".."}
    print(d.metadata["Name"], *sorted(tops), sep="\\t")
"""
CONFIG = "databases:\n  local:\n    type: sqlite\n    database: data/app.db\n"
STEPS = {
    "import dbnb": "import dbnb",
    "+ dbnb.connect(sqlite)": "import dbnb; db = dbnb.connect('local')",
    "+ first query": "import dbnb; db = dbnb.connect('local'); db.query('SELECT 1')",
}
TIMER = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \| +(\S+)$")


def run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def build(out: Path) -> Path:
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=JUNK)
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)])
    return next(out.glob("dbnb-*.whl"))


def kilobytes(folder: Path) -> int:
    return int(run(["du", "-sk", str(folder)]).split()[0])


def venv(home: Path, requirement: str | None) -> Path:
    """A fresh venv at ``home`` with ``requirement`` installed; its site-packages."""
    run([sys.executable, "-m", "venv", str(home)])
    if requirement is not None:
        run([str(home / "bin" / "pip"), "install", "--quiet", requirement])
    (site,) = (home / "lib").glob("python3*/site-packages")
    return site


def distributions(home: Path, site: Path) -> list[tuple[int, str]]:
    """Each installed distribution's kilobytes, largest first."""
    sizes = []
    for line in run([str(home / "bin" / "python"), "-c", TOPS], home).splitlines():
        name, *tops = line.split("\t")
        paths = [str(site / top) for top in tops if (site / top).exists()]
        sizes.append((int(run(["du", "-skc", *paths]).split()[-2]) if paths else 0, name))
    return sorted(sizes, reverse=True)


def timings(home: Path, project: Path) -> None:
    python = str(home / "bin" / "python")
    for label, code in STEPS.items():
        seconds = [float(run([python, "-c", TIMER.format(code=code)], project)) for _ in range(5)]
        print(f"  {label:<24} {statistics.median(seconds) * 1000:6.0f} ms (median of 5)")
    trace = run([python, "-X", "importtime", "-c", STEPS["+ first query"]], project)
    # Each module's own time, summed by its top-level package: what importing that
    # package costs by itself, wherever it was imported from (dbnb loads most lazily).
    by_package: dict[str, int] = defaultdict(int)
    for line in trace.splitlines():
        found = IMPORT_LINE.match(line)
        if found:
            by_package[found.group(2).split(".")[0]] += int(found.group(1))
    print(f"  -X importtime, own time by package (of {sum(by_package.values()) / 1000:.0f} ms):")
    for name, micros in sorted(by_package.items(), key=lambda item: -item[1])[:15]:
        print(f"    {name:<24} {micros / 1000:6.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, help="a built wheel (default: build one)")
    parser.add_argument("--extras", default=",".join(EXTRAS))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        temp = Path(folder)
        wheel = options.wheel or build(temp)
        print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1024:.0f} KiB")
        empty = kilobytes(venv(temp / "empty", None))
        print(f"an empty venv's site-packages (pip, setuptools): {empty / 1024:.0f} MiB")
        core = 0.0
        for extra in ["", *filter(None, options.extras.split(","))]:
            home = temp / f"venv-{extra or 'core'}"
            site = venv(home, f"{wheel}[{extra}]" if extra else str(wheel))
            size = (kilobytes(site) - empty) / 1024
            more = f" (+{size - core:.0f} MiB)" if extra else ""
            print(f"dbnb{f'[{extra}]' if extra else ''}: {size:.0f} MiB in site-packages{more}")
            if not extra:
                core = size
                for size_kb, name in distributions(home, site)[:20]:
                    print(f"  {name:<28} {size_kb / 1024:6.1f} MiB")
                project = temp / "project"
                (project / "etc").mkdir(parents=True)
                (project / "etc" / "infra.yaml").write_text(CONFIG)
                timings(home, project)
            shutil.rmtree(home)


if __name__ == "__main__":
    main()
