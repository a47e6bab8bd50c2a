"""What dbnb hides from every message, record and log: passwords, and bound values.

A password may show in any of the forms a URL or a driver gives it: as typed,
URL-encoded (``quote``, ``quote_plus``), or with its ``%`` doubled (SQLAlchemy's
URL rendering for ``configparser``). ``secret_forms`` lists them; ``mask_secrets``
replaces each with ``***``.

A bound value a database quotes back in its message (PostgreSQL's ``invalid
input syntax for type integer: "abc"``) is replaced by its placeholder, ``:name``
(``mask_values``), so the message still says which parameter it was.

Both replace whole values only, never part of a word: a match counts only where
it does not run on into a letter, digit or ``_`` on either side (a secret that
starts or ends with such a character; one that starts with ``!`` may follow a
word). With password ``dev``, ``database "devdbx" does not exist`` is left as
it is, while ``user:dev@host``, ``password=dev`` and ``"dev"`` are masked. A
bound value is also replaced only where it is quoted (``'abc'``, ``"abc"``,
```abc```, quotes and all) or, unquoted, when its text is at least
``_MIN_UNQUOTED`` characters long: a value ``1`` never turns "line 1" into
"line :id".

A secret dbnb read by reference (the keyring, a file, a password command, an
option file: ``dbnb.config.secrets``) is ``remember``-ed: ``mask_secrets`` masks
it in every text, whichever connection's message it is, for the life of the process.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import quote, quote_plus
from uuid import UUID

MASK = "***"
_MIN_UNQUOTED = 4  # characters: an unquoted bound value shorter than this is left alone
_QUOTES = "'\"`"
# The values a server may quote back as their text: str() is how it would print them.
_QUOTED_TYPES = (str, int, float, Decimal, date, datetime, time, UUID)


# Every form of each secret read by reference; a command's passwords rotate, so only
# its last ones are kept (an expired token is no secret any more).
_REMEMBERED: set[str] = set()
_ROTATING: deque[tuple[str, ...]] = deque(maxlen=32)


def remember(secret: str, *, rotating: bool = False) -> None:
    """Mask ``secret`` in every text from now on (``mask_secrets``)."""
    forms = secret_forms(secret)
    if rotating:
        if forms not in _ROTATING:
            _ROTATING.append(forms)
    else:
        _REMEMBERED.update(forms)


def remembered() -> set[str]:
    """The forms of every secret ``remember``-ed and still kept."""
    return _REMEMBERED.union(*_ROTATING)


def secret_forms(secret: str | None) -> tuple[str, ...]:
    """``secret`` as typed, URL-encoded and ``%``-doubled: each form it may show in."""
    if not secret:
        return ()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {form.replace("%", "%%") for form in forms}
    return tuple(sorted(forms, key=len, reverse=True))


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each whole occurrence of each secret (``secret_forms``), and of
    each one ``remember``-ed, as ``***``."""
    for secret in sorted(remembered().union(secrets), key=len, reverse=True):
        if secret and secret in text:
            text = _whole(secret).sub(MASK, text)
    return text


def mask_values(text: str, values: Any) -> str:
    """``text`` with each bound value of ``values`` (``named``; a list's items under
    its name) shown as ``:name`` where the database quoted it back."""
    by_name = named(values)
    if not by_name:
        return text
    shown = sorted(_texts(by_name), key=lambda item: len(item[0]), reverse=True)
    for value, name in shown:
        if value not in text:
            continue
        pattern = _quoted(value) if len(value) < _MIN_UNQUOTED else _whole(value, quoted=True)
        text = pattern.sub(f":{name}".replace("\\", "\\\\"), text)
    return text


def named(parameters: Any) -> dict[str, Any]:
    """``parameters`` by placeholder name: a mapping as it is, a sequence (positional
    binds) by position from 1, a list of them (executemany) merged."""
    if isinstance(parameters, Mapping):
        return {str(name): value for name, value in parameters.items()}
    if not isinstance(parameters, list | tuple):
        return {}
    if parameters and all(isinstance(row, Mapping | list | tuple) for row in parameters):
        merged: dict[str, list[Any]] = {}
        for row in parameters:
            for name, value in named(row).items():
                merged.setdefault(name, []).extend(
                    value if isinstance(value, list | tuple) else [value]
                )
        return dict(merged)
    return {str(position): value for position, value in enumerate(parameters, 1)}


def _texts(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list | tuple | set | frozenset) else [value]
        for item in items:
            if isinstance(item, _QUOTED_TYPES) and not isinstance(item, bool):
                text = str(item)
                if text.strip():
                    found.append((text, str(name)))
    return found


def _edges(value: str) -> tuple[str, str]:
    """Lookarounds that keep a match from running on into a word on either side."""
    before = r"(?<![\w])" if re.match(r"\w", value[0]) else ""
    after = r"(?![\w])" if re.match(r"\w", value[-1]) else ""
    return before, after


def _whole(value: str, *, quoted: bool = False) -> re.Pattern[str]:
    """``value`` as a whole token; with ``quoted``, its surrounding quotes go with it."""
    before, after = _edges(value)
    bare = f"{before}{re.escape(value)}{after}"
    if not quoted:
        return re.compile(bare)
    return re.compile(f"{_quoted(value).pattern}|{bare}")


def _quoted(value: str) -> re.Pattern[str]:
    """``value`` between a pair of the same quotes, quotes included."""
    return re.compile("|".join(f"{re.escape(q)}{re.escape(value)}{re.escape(q)}" for q in _QUOTES))
