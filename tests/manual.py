"""The manual as the tests read it: README.md and every page of docs/, their fenced
blocks, and the sections other tests take their tables and config from.

A block knows its file and line (``docs/how-to/write-back.md:12``), so a failure
names where to look. The pages are the files of ``docs/`` (``mkdocs.yml``'s
``docs_dir``), in the order of their paths, after the README.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The pages that hold what other tests check against, wherever the manual moves it.
CONFIG_PAGE = DOCS / "connections.md"  # the config every block runs with: its first yaml
TYPES_PAGE = DOCS / "reference" / "types.md"  # the generated dtype table
ERRORS_PAGE = DOCS / "reference" / "errors.md"  # the error tree and the "Bad input" table
WRITE_PAGE = DOCS / "how-to" / "write-back.md"  # the Shield model's validation sample


def pages() -> list[Path]:
    """README.md, then every page of the manual."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def name_of(path: Path) -> str:
    """A page as failures name it: its path from the project's root."""
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    """A fenced block of a page."""

    path: str  # the page, from the project's root
    line: int  # of its opening fence, counted from 1
    language: str
    text: str  # without the fence's own indentation
    section: str  # the heading above it

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[\w-]*)\s*$")


def blocks_of(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    section, index = "", 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        opening = FENCE.match(line)
        if opening is None:
            index += 1
            continue
        indent, start = opening["indent"], index
        index += 1
        body = []
        while lines[index].strip() != "```":
            body.append(lines[index].removeprefix(indent))
            index += 1
        text = "\n".join(body) + "\n"
        found.append(Block(name_of(path), start + 1, opening["language"], text, section))
        index += 1
    return found


@cache
def all_blocks() -> tuple[Block, ...]:
    return tuple(block for path in pages() for block in blocks_of(path))


def section(path: Path, heading: str) -> str:
    """The text under ``heading`` (its words, any level), to the next heading of its
    level or above."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    headings: list[tuple[int, int, str]] = []  # (line, level, words), outside code blocks
    fenced = False
    for index, line in enumerate(lines):
        if FENCE.match(line) or (fenced and line.strip() == "```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#+) (.*)", line)):
            headings.append((index, len(match[1]), match[2].strip()))
    for position, (index, level, words) in enumerate(headings):
        if words == heading:
            later = [start for start, depth, _ in headings[position + 1 :] if depth <= level]
            return "".join(lines[index + 1 : later[0] if later else len(lines)])
    raise AssertionError(f"{name_of(path)}: no heading {heading!r}")


def config_yaml() -> str:
    """The config of the Connections page, as a user would copy it: its first yaml block."""
    (first, *_) = [block for block in blocks_of(CONFIG_PAGE) if block.language == "yaml"]
    return first.text
