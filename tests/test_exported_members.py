import dbnb


def test_all_lists_every_public_name_sorted() -> None:
    # dir(), not vars(): most names are imported on first use (dbnb.__getattr__).
    public = {
        name
        for name in dir(dbnb)
        if not name.startswith("_")
        and getattr(getattr(dbnb, name), "__module__", "").startswith("dbnb")
    }
    assert dbnb.__all__ == sorted(dbnb.__all__)
    assert set(dbnb.__all__) == public


def test_errors_derive_from_dbnb_error() -> None:
    for name in (
        "ConfigError",
        "UnknownConnectionError",
        "ReadOnlyError",
        "QueryError",
        "PoolTimeoutError",
        "ConnectError",
        "WriteError",
        "ValidationError",
    ):
        assert issubclass(getattr(dbnb, name), dbnb.DbnbError)
    assert issubclass(dbnb.UnknownConnectionError, dbnb.ConfigError)
    assert issubclass(dbnb.ValidationError, dbnb.WriteError)
