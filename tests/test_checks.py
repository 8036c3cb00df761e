"""sigmse.checks: every message names the bad value and what is allowed, in the default words or the caller's."""

from __future__ import annotations

import pandas as pd
import pytest

from sigmse.checks import check_choice, check_columns, check_like, check_list, check_number, check_typed


def _message(check, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_check_choice_lists_the_choices_plain_or_quoted():
    check_choice("dataset", "mnist", ("mnist", "cifar10"))
    assert _message(check_choice, "dataset", "svhn", ("mnist", "cifar10")) == \
        "dataset 'svhn' is not allowed; choose one of: mnist, cifar10"
    assert _message(check_choice, "target", "true", ("fixed", "free"), quote=True) == \
        "target 'true' is not allowed; choose one of: 'fixed', 'free'"
    assert _message(check_choice, "fixed_index", 3, (0, 1, 2)) == "fixed_index 3 is not allowed; choose one of: 0, 1, 2"


def test_check_choice_refuses_a_bool_for_a_number_but_not_among_bools():
    assert _message(check_choice, "fixed_index", True, (0, 1, 2)) == \
        "fixed_index True is not allowed; choose one of: 0, 1, 2"
    check_choice("shift", True, (True, False))


@pytest.mark.parametrize("value, options, message", [
    ("abc", {}, "lr must be a number, got 'abc'"),
    (True, {}, "lr must be a number, got True"),
    (1.5, {"integer": True}, "lr must be an integer, got 1.5"),
    (float("nan"), {}, "lr must be a finite number, got nan"),
    (float("-inf"), {"low": 0}, "lr must be a finite number, got -inf"),
    (0.0, {"low": 0.0, "low_open": True}, "lr must be in (0.0, inf], got 0.0"),
    (1.0, {"low": 0.0, "high": 1.0, "high_open": True}, "lr must be in [0.0, 1.0), got 1.0"),
    (-1, {"high": -2, "integer": True}, "lr must be in [-inf, -2], got -1"),
])
def test_check_number_default_words(value, options, message):
    assert _message(check_number, "lr", value, **options) == message


@pytest.mark.parametrize("value, message", [
    (-1, "val_size must be an integer with 0 <= val_size < 10, got -1"),  # out of range
    (10, "val_size must be an integer with 0 <= val_size < 10, got 10"),
    (2.5, "val_size must be an integer with 0 <= val_size < 10, got 2.5"),  # wrong type: the same words
    (True, "val_size must be an integer with 0 <= val_size < 10, got True"),
])
def test_check_number_in_the_callers_words_for_the_whole_rule(value, message):
    assert _message(check_number, "val_size", value, low=0, high=10, high_open=True, integer=True,
                    allowed="an integer with 0 <= val_size < 10") == message


@pytest.mark.parametrize("value, message", [
    (1, "grid_size must be >= 2, got 1"),
    (10.0, "grid_size must be a finite integer, got 10.0"),
    ("3", "grid_size must be a finite integer, got '3'"),
])
def test_check_number_kind_and_range_in_the_callers_words(value, message):
    assert _message(check_number, "grid_size", value, low=2, integer=True, kind="a finite integer",
                    allowed=">= 2") == message
    assert _message(check_number, "x", float("inf"), kind="a finite number") == "x must be a finite number, got inf"


def test_valid_numbers_pass():
    check_number("rate", 0.0, low=0.0, high=1.0, high_open=True, allowed="a number in [0, 1)")
    check_number("steps", 0, low=0, integer=True)
    check_number("lr", 3, low=0, low_open=True)  # an int is a number


def test_check_typed_by_declared_type():
    check_typed("iterations", None, "int | None")
    assert _message(check_typed, "iterations", 1.5, "int | None") == "iterations must be an integer, got 1.5"
    assert _message(check_typed, "shift", 3, "bool") == "shift must be true or false, got 3"
    assert _message(check_typed, "name", 3, "str") == "name must be a string, got 3"


def test_check_like_takes_the_kind_of_the_example():
    check_like("seeds", [0, 1], [0])
    check_like("anything", {"a": [1.0]}, None)
    assert _message(check_like, "grid_size", 0.5, 100) == "grid_size must be an integer, got 0.5"
    assert _message(check_like, "start", 3.0, [-8.0, 8.0]) == "start must be a list like its default [-8.0, 8.0], got 3.0"
    assert _message(check_like, "start", [1.0, "x"], [-8.0, 8.0]) == "start entry must be a number, got 'x'"
    assert _message(check_like, "alpha", float("nan"), None) == "alpha must be a finite number, got nan"
    assert _message(check_like, "cfg", {"a": [float("inf")]}, None) == "cfg entry entry must be a finite number, got inf"


def test_check_list_wants_several_values_of_the_declared_type():
    check_list("seeds", [0, 1], "int")
    check_list("datasets", ("mnist",), "str")
    assert _message(check_list, "datasets", "mnist", "str") == "datasets must be a list, got 'mnist'"
    assert _message(check_list, "seeds", 3, "int") == "seeds must be a list, got 3"
    assert _message(check_list, "seeds", [1, 1.5], "int") == "seeds entry must be an integer, got 1.5"


def test_check_columns_names_the_missing_columns_and_those_the_table_has():
    frame = pd.DataFrame({"loss": [], "slope": []})
    check_columns("slopes", frame, ("loss", "slope"))
    with pytest.raises(ValueError, match=r"^slopes lacks columns \['grad_slope'\]; it has \['loss', 'slope'\]$"):
        check_columns("slopes", frame, ("slope", "grad_slope"))
