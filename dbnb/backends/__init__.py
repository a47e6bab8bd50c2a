"""One home per database, found by the dialect's name: see dbnb.engine.backend."""
