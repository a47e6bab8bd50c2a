"""The values of a config file: YAML whose mappings remember their keys' lines, ``${ENV}``
references expanded, and each value read as the type its key takes. A bad value is a
``BadValue`` the caller turns into a ``ConfigError`` naming file, line, connection and key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dbnb.errors import ConfigError

_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)?([^}]*)\}")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# --- reading the YAML -------------------------------------------------------------


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line of each of its keys."""

    lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    pass


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


def expand_env(value: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` (``$$`` is a literal ``$``)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, fallback = match.group(1), match.group(2), match.group(3)
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


def read_yaml(text: str, *, path: Path | None = None) -> Any:
    """A config file's YAML document; its mappings remember their keys' lines (``line_of``).

    Other top-level sections of the same file (``pgserver:``, ``migrations:``)
    are read through this too, so every section's errors name file and line alike.
    """
    try:
        return yaml.load(text, Loader=_LineLoader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(
            f"invalid YAML: {problem}", path=path, line=mark.line + 1 if mark else None
        ) from None
