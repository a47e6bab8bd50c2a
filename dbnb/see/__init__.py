"""Seeing the data: plots and profiles computed by the database, plans as text, exports.

The facade's helpers behind ``Database.plot``, ``Database.profile`` and
``Database.explain``, and the exports of ``%%db --csv/--parquet``. They take the
``Database`` as an argument (what they ask of it: ``see.backend.Viewed``) and send
their statements through ``db.query``, so binding, read-only sessions, timeouts
and the history apply; what each database spells differently comes from its
backend, resolved once with the connection (``db.backend``: ``SeeBackend``).
"""
