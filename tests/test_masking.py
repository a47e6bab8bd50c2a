"""dbnb.config.masking: whole passwords and bound values only, never part of another word."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote, quote_plus

import pytest

from dbnb.config.masking import mask_secrets, mask_values, named, secret_forms


def test_a_password_is_masked_in_every_form_a_url_gives_it() -> None:
    password = "s3cr%et pw!/@"
    forms = secret_forms(password)
    assert password in forms
    assert quote(password, safe="") in forms
    assert quote_plus(password) in forms
    assert quote(password, safe="").replace("%", "%%") in forms  # SQLAlchemy's %-doubling
    assert password.replace("%", "%%") in forms
    for form in forms:
        text = f"mysql://me:{form}@db/x password={form} '{form}'"
        assert mask_secrets(text, forms) == "mysql://me:***@db/x password=*** '***'"
    assert secret_forms(None) == secret_forms("") == ()


@pytest.mark.parametrize(
    ("password", "text"),
    [
        ("dev", 'database "devdbx" does not exist'),
        ("x", "does not exist"),
        ("dev", "user_dev is not allowed; devs only"),
        ("42", "column 142 is 4200 wide"),
    ],
)
def test_a_password_inside_another_word_is_left_alone(password: str, text: str) -> None:
    assert mask_secrets(text, secret_forms(password)) == text


def test_a_password_standing_as_a_value_is_masked() -> None:
    forms = secret_forms("dev")
    assert mask_secrets('password "dev" for dev@host', forms) == 'password "***" for ***@host'
    # A password that starts or ends with a non-word character is masked even touching a word.
    assert mask_secrets("tokena!b!c", secret_forms("!b!")) == "tokena***c"


def test_a_quoted_bound_value_shows_as_its_placeholder() -> None:
    message = 'invalid input syntax for type integer: "abc"'
    assert mask_values(message, {"v": "abc"}) == "invalid input syntax for type integer: :v"
    assert mask_values("Incorrect value: 'x' for column", {"c": "x"}) == (
        "Incorrect value: :c for column"
    )


def test_a_short_value_is_hidden_only_where_quoted() -> None:
    # Value 1 must not turn "line 1" into "line :id"; quoted, it is the value.
    message = "syntax error at line 1 near '1'"
    assert mask_values(message, {"id": 1}) == "syntax error at line 1 near :id"


def test_a_long_value_is_hidden_unquoted_but_only_as_a_whole_token() -> None:
    values = {"n": 123456, "day": date(2024, 5, 17), "w": "word"}
    message = "out of range: 123456 (not 1234567) on 2024-05-17; words word"
    assert mask_values(message, values) == "out of range: :n (not 1234567) on :day; words :w"


def test_list_values_and_positional_parameters_are_named() -> None:
    assert mask_values("value 'abcd' and 'efgh'", {"ids": ["abcd", "efgh"]}) == (
        "value :ids and :ids"
    )
    assert named(("abcd", 2)) == {"1": "abcd", "2": 2}
    assert named([{"a": 1}, {"a": 2}]) == {"a": [1, 2]}
    assert mask_values("value 'abcd'", ("abcd",)) == "value :1"
    assert mask_values("nothing bound", None) == "nothing bound"
    assert mask_values("true or 'True'", {"b": True}) == "true or 'True'"  # no text of its own
