"""Each database's backend, by name: the entry points of group ``dbnb.backends``.

A backend is registered by the package that brings it, in its ``pyproject.toml``,
under the name SQLAlchemy gives the database's dialect (a URL's scheme, without
its driver)::

    [project.entry-points."dbnb.backends"]
    postgresql = "dbnb.backends.postgresql:PostgreSQL"

dbnb registers its own there too (``postgresql``, ``sqlite``, ``mysql``, ``mariadb``,
``spark``), so adding a database is its package and that one line. The entry
points are read once per process and each backend loaded on first use; a name
with no registration gets the base ``Backend`` (any SQLAlchemy dialect, no guard
of dbnb's). The connection resolves its backend here once and hands it down.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from dbnb.errors import DbnbError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from dbnb.backends.base import Backend
    from dbnb.sql.prepared import SqlRules

GROUP = "dbnb.backends"
# The distribution whose registrations dbnb's read-only guards depend on.
_OWN = "dbnb"


@functools.cache
def _registered() -> dict[str, EntryPoint]:
    """The registrations of every installed distribution, by name (read once)."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    own = False
    for point in entry_points(group=GROUP):
        distribution = point.dist.name if point.dist is not None else "?"
        own = own or distribution == _OWN
        earlier = found.get(point.name)
        if earlier is not None and earlier.value != point.value:
            raise DbnbError(
                f"two packages register the dbnb backend {point.name!r}: {earlier.value} "
                f"and {point.value}; uninstall one of them"
            )
        found[point.name] = point
    if not own:
        # Without them every database would get the base Backend, which guards nothing:
        # a PostgreSQL read would no longer be read-only. Refuse rather than fall back.
        raise DbnbError(
            f"dbnb's own backends are not registered (no {GROUP!r} entry points of the "
            "dbnb distribution): install dbnb, e.g. pip install -e . in its checkout"
        )
    return found


@functools.cache
def backend_for(name: str) -> Backend:
    """The backend of the database SQLAlchemy names ``name`` (a config's ``backend``):
    its registered class's one instance, or the base ``Backend`` for any other."""
    from dbnb.backends.base import Backend  # pyarrow and the write layer: on first use

    point = _registered().get(name)
    if point is None:
        return _instance(Backend)
    kind = point.load()
    if not (isinstance(kind, type) and issubclass(kind, Backend)):
        raise DbnbError(
            f"the dbnb backend registered as {name!r} ({point.value}) is not a subclass of "
            "dbnb.backends.base.Backend"
        )
    return _instance(kind)


# One instance per class: MySQL's serves both mysql and mariadb.
_instances: dict[type[Backend], Backend] = {}


def _instance(kind: type[Backend]) -> Backend:
    if kind not in _instances:
        _instances[kind] = kind()
    return _instances[kind]


def sql_rules_for(name: str) -> SqlRules:
    """What the SQL layer takes of database ``name``: its backend's lexical, bind and read
    rules, as one object (``dbnb.sql.prepared.prepare``)."""
    return backend_for(name).sql_rules
