"""The notebook front end: the ``%db``/``%%db`` magics (``magics``), what a cell runs
(``cells``) and shows (``display``), completion (``complete``, ``schema_cache``) and
jupysql interop (``interop``). The only part of dbnb that imports IPython.
"""
