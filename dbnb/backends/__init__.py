"""Each database's backend: a ``base.Backend`` subclass, found by name (``registry``)."""
