"""Seeing the data: plots and profiles computed by the database, plans as text, exports.

The facade's helpers behind ``Database.plot``, ``Database.profile`` and
``Database.explain``, and the exports of ``%%db --csv/--parquet``. They take the
``Database`` as an argument and send their statements through ``db.query``, so
binding, read-only sessions, timeouts and the history apply; what each database
spells differently comes from its home (``dbnb.engine.backend.backend_for``).
"""
