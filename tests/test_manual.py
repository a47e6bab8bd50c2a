"""The manual holds together: every page is in its navigation, the README's links
lead somewhere, and the reference pages name everything dbnb offers (every config
key, every option and subcommand of the magics, every public name), so a key or an
option added to dbnb without its line in the reference fails here.

Its code blocks run in tests/test_readme.py; ``mkdocs build --strict`` (make lint)
checks its links and anchors.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import yaml

import dbnb
from dbnb import config
from dbnb.config import pgserver
from dbnb.devtools import migrate
from dbnb.notebook import magics
from tests import manual

REFERENCE = manual.DOCS / "reference"


def nav_pages(entries: list[Any]) -> list[str]:
    """The pages of mkdocs.yml's nav, in order."""
    found: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found.extend(nav_pages(value) if isinstance(value, list) else [value])
    return found


def test_every_page_is_in_the_nav_once() -> None:
    settings = yaml.safe_load((manual.ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = nav_pages(settings["nav"])
    pages = [path.relative_to(manual.DOCS).as_posix() for path in manual.pages()[1:]]
    assert sorted(listed) == sorted(pages)
    assert len(set(listed)) == len(listed)


def test_the_readme_is_short_and_its_links_lead_somewhere() -> None:
    text = manual.README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200  # the manual holds the rest
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the manual"
    missing = [link for link in local if not (manual.ROOT / link).exists()]
    assert not missing


def first_cells(markdown: str) -> list[str]:
    """The first cell of each row of the tables in ``markdown``, without backticks."""
    return [
        re.split(r"(?<!\\)\|", line)[1].replace("`", "").strip()
        for line in markdown.splitlines()
        if line.startswith("| ") and not re.match(r"\| *(key|option|magic) *\|", line)
    ]


def test_the_config_reference_names_every_key() -> None:
    page = REFERENCE / "config.md"
    assert first_cells(manual.section(page, "Top level")) == [
        *config.TOP_LEVEL_KEYS,
        pgserver.SECTION,
        migrate.SECTION,
    ]
    assert first_cells(manual.section(page, "`databases:` entries")) == list(config.ENTRY_KEYS)
    assert first_cells(manual.section(page, "`pgserver:`")) == list(pgserver.KEYS)
    assert first_cells(manual.section(page, "`migrations:`")) == list(migrate.SETTINGS_KEYS)


def subcommands() -> set[str]:
    """The %db subcommands: the magic's dispatch table, and the two read as SQL."""
    source = Path(magics.__file__).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Attribute)
            and node.target.attr == "_subcommands"
            and isinstance(node.value, ast.Dict)
        ):
            names = {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
            return {*names, "explain", "frames"}
    raise AssertionError("no _subcommands table in dbnb/notebook/magics.py")


def test_the_magics_reference_names_every_option_and_subcommand() -> None:
    page = REFERENCE / "magics.md"
    options = " ".join(first_cells(manual.section(page, "Options")))
    for action in magics.DbMagics.db.parser._actions:
        for option in action.option_strings:
            assert re.search(rf"(^|[ ,]){re.escape(option)}\b", options), option
    rows = first_cells(manual.section(page, "Subcommands"))
    named = {row.split()[1] for row in rows if len(row.split()) > 1}
    assert subcommands() <= named, subcommands() - named


def test_the_api_reference_documents_every_public_name() -> None:
    text = (REFERENCE / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: dbnb\.(\w+)$", text, re.MULTILINE))
    errors = manual.section(REFERENCE / "api.md", "Errors")
    documented |= set(re.findall(r"^ +- (\w+)$", errors, re.MULTILINE))
    missing = sorted(set(dbnb.__all__) - documented)
    assert not missing
