import dbnb


def test_all_lists_every_public_name_sorted() -> None:
    public = {
        name
        for name, value in vars(dbnb).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("dbnb")
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
        "WriteError",
        "ValidationError",
    ):
        assert issubclass(getattr(dbnb, name), dbnb.DbnbError)
    assert issubclass(dbnb.UnknownConnectionError, dbnb.ConfigError)
    assert issubclass(dbnb.ValidationError, dbnb.WriteError)
