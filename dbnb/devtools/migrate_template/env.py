"""Alembic environment of a dbnb project.

The connection and the models come from dbnb's config (etc/infra.yaml): the
database is `dbnb.connect(NAME)`, never a second copy of its URL. Run it with
`dbnb migrate NAME upgrade head`, or with Alembic itself:
`alembic -c migrations/alembic.ini -x connection=NAME upgrade head`.
"""

from dbnb.devtools.migrate import run_environment

run_environment()
