"""A named connection and what it offers: the registry of names (``registry``), the
SQLAlchemy-backed ``Database`` (``database``) and its async twin (``aio``), the interface
every backend's connection fulfils (``facade``), health checks (``health``) and the
catalogue (``inspect``).
"""
