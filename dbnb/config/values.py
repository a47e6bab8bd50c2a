"""The values of a config file: YAML whose mappings remember their keys' lines, ``${ENV}``
references expanded, and each value read as the type its key takes. A bad value is a
``BadValue`` the caller turns into a ``ConfigError`` naming file, line, connection and key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from dbnb.errors import ConfigError

# `$$`, a secret by reference (`${keyring:SERVICE/USER}`, `${keyring}`, `${file:PATH}`,
# dbnb.config.secrets), or an environment variable (`${VAR}`, `${VAR:-default}`).
_ENV_REFERENCE = re.compile(
    r"\$\$|\$\{(?:(keyring|file)(?::([^}]*))?|([A-Za-z_][A-Za-z0-9_]*)(:?-)?([^}]*))\}"
)
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# --- reading the YAML -------------------------------------------------------------


# Limits on what a config file may ask of the YAML reader. A config of a thousand
# connections is ~150 KB and a handful of levels deep; these are far beyond that and
# far below what hurts: a 438-byte "billion laughs" alias bomb once took minutes and
# gigabytes, and 10,000 nested `[` a RecursionError (dbnb issue #22).
MAX_BYTES = 1 << 20  # pure-Python PyYAML reads ~0.3 MB/s, so even this takes seconds
MAX_DEPTH = 64
# Anchors and aliases stay allowed: `<<: *defaults` is how a file shares settings
# between connections, and other tools' sections of the same file may use them. What
# is bounded is how much they repeat: every alias counts the nodes it stands for.
MAX_ALIASED_NODES = 10_000


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of each of its keys."""

    lines: dict[str, int]


class _Refused(yaml.MarkedYAMLError):
    """YAML that parses but dbnb will not read: too deep, aliases that repeat too much,
    a key given twice."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _LineLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the limits above, checked while the file is composed
    (before anything is built from it), and with each key allowed once per mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliased = 0
        self._sizes: dict[int, int] = {}  # id(node) -> its node count, aliases expanded
        self._enclosing: list[str | None] = []  # the key each open node is the value of

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # Caught in the scanner already: it keeps one possible key per open `[` or `{`
        # and walks them all at each token, so 10,000 of them take seconds to scan.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(_too_deep(), self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # PyYAML refuses an undefined alias
            size = self._sizes.get(id(node))
            if size is None:  # the anchored node is still open: the alias is inside it
                raise _Refused(f"alias *{event.anchor} is inside its own anchor", event.start_mark)
            self._aliased += size
            if self._aliased > MAX_ALIASED_NODES:
                raise _Refused(
                    f"aliases repeat more than {MAX_ALIASED_NODES} nodes in all "
                    "(an alias bomb?); write the settings out instead",
                    event.start_mark,
                )
            return node
        if self._depth >= MAX_DEPTH:
            raise _Refused(_too_deep(), event.start_mark)
        self._depth += 1
        self._enclosing.append(index.value if isinstance(index, yaml.ScalarNode) else None)
        node = super().compose_node(parent, index)
        self._enclosing.pop()
        self._depth -= 1
        if node is not None:
            children = _children(node)
            self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in children)
        return node

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in seen:
                under = self._enclosing[-1] if self._enclosing else None
                where = f" under {under!r}" if under else ""
                if self._depth == 1:
                    where = " at the top level"
                raise _Refused(
                    f"{key.value!r} is given twice{where}, on lines {seen[key.value]} and "
                    f"{line}; keep one",
                    key.start_mark,
                )
            seen[key.value] = line
        return node


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep; a config needs a handful"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping(
        {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}
    )
    mapping.lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(mapping: Any, key: str) -> int | None:
    """The line of ``key`` in a mapping read by ``read_yaml``, if known."""
    return mapping.lines.get(key) if isinstance(mapping, _Mapping) else None


# --- values -------------------------------------------------------------------------


class BadValue(Exception):
    """A bad value; the caller adds file, line, connection and key."""


def expand_env(
    value: str,
    environ: Mapping[str, str],
    secret: Callable[[str, str | None], str] | None = None,
) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` (``$$`` is a literal ``$``); with
    ``secret``, ``${keyring...}`` and ``${file:...}`` by what ``secret(kind, argument)``
    returns (``dbnb.config.secrets``), else they are refused."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group(1) is not None:
            if secret is None:
                raise BadValue(
                    f"{match.group(0)} is read in a 'databases:' entry only; "
                    "use an environment variable here"
                )
            return secret(match.group(1), match.group(2))
        name, operator, fallback = match.group(3), match.group(4), match.group(5)
        if operator is None and fallback:
            raise BadValue(f"malformed reference {match.group(0)!r}; use ${{{name}:-default}}")
        found = environ.get(name)
        if found is None or (found == "" and operator == ":-"):
            if operator is not None:
                return fallback
            raise BadValue(
                f"environment variable {name} is not set "
                f"(set it, or write ${{{name}:-default}} for a fallback)"
            )
        return found

    return _ENV_REFERENCE.sub(substitute, value)


def as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadValue(f"expected a whole number, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError:
        raise BadValue(f"expected a whole number, got {value!r}") from None


def as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadValue(f"expected a number of seconds, got {type(value).__name__}")
    try:
        return float(value)
    except ValueError:
        raise BadValue(f"expected a number of seconds, got {value!r}") from None


def as_positive_seconds(value: Any) -> float:
    seconds = as_float(value)
    if not seconds > 0:
        raise BadValue(f"expected a number of seconds above 0, got {value!r}")
    return seconds


def as_milliseconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadValue(f"expected a number of milliseconds, got {type(value).__name__}")
    try:
        milliseconds = float(value)
    except ValueError:
        raise BadValue(f"expected a number of milliseconds, got {value!r}") from None
    if milliseconds < 0:
        raise BadValue(f"expected a number of milliseconds, 0 or more, got {value!r}")
    return milliseconds


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise BadValue(f"expected true or false, got {value!r}")


def as_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(f"expected text, got {type(value).__name__}")
    return str(value)


def as_mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadValue(f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def read_config_text(path: Path) -> str:
    """A config file's text, refused without reading it all if it is over ``MAX_BYTES``.

    An ``OSError`` is the caller's to word (it knows where the path came from).
    """
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ConfigError(_too_big(), path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text (byte {error.start})", path=path) from None


def _too_big() -> str:
    return f"larger than {MAX_BYTES // 1024} KiB; a config file of connections is a few KB"


def read_yaml(text: str, *, path: Path | None = None) -> Any:
    """A config file's YAML document; its mappings remember their keys' lines (``line_of``).

    Other top-level sections of the same file (``pgserver:``, ``migrations:``)
    are read through this too, so every section's errors name file and line alike,
    and every section is read within the same limits (``MAX_BYTES``, ``MAX_DEPTH``,
    ``MAX_ALIASED_NODES``, each key once per mapping).
    """
    if len(text) > MAX_BYTES:
        raise ConfigError(_too_big(), path=path)
    try:
        return yaml.load(text, Loader=_LineLoader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        message = problem if isinstance(error, _Refused) else f"invalid YAML: {problem}"
        raise ConfigError(message, path=path, line=mark.line + 1 if mark else None) from None
