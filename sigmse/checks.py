"""Checks of values a user passes in: each raises ``ValueError`` quoting the bad value and what is allowed.

Every package checks its input here and nowhere else. Messages have one form: ``<name> <value> is not allowed;
choose one of: ...``, ``<name> must be <what is allowed>, got <value>``, or, for a table,
``<name> lacks columns [...]; it has [...]``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["check_choice", "check_number", "check_typed", "check_list", "check_like", "check_columns"]


def check_choice(name: str, value: object, allowed: Sequence[Any], *, quote: bool = False) -> None:
    """Check that ``value`` is one of ``allowed``; the error names the value and lists the choices.

    ``quote=True`` lists them by their ``repr``. A ``bool`` is refused unless ``allowed`` holds one: ``True == 1``,
    but ``fixed_index=True`` is a mistake, not class 1.
    """
    is_bool = isinstance(value, bool) and not any(isinstance(a, bool) for a in allowed)
    if is_bool or value not in allowed:
        choices = ", ".join(repr(a) if quote else str(a) for a in allowed)
        raise ValueError(f"{name} {value!r} is not allowed; choose one of: {choices}")


def check_number(name: str, value: object, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False,
                 kind: str | None = None, allowed: str | None = None) -> None:
    """Check that ``value`` is a finite number (an ``int`` if ``integer``) in the stated interval.

    ``bool`` is refused (``lr=True`` is a mistake, not 1.0), and so are NaN and +-inf, which would pass a range
    check and then train until they diverge. ``allowed`` states the whole rule in the caller's words, in every
    message; ``kind`` states the type for a value of the wrong type or not finite, ``allowed`` then the range.
    """
    kind = kind or allowed
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise ValueError(f"{name} must be {kind or ('an integer' if integer else 'a number')}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be {kind or 'a finite number'}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left, right = ("(" if low_open else "["), (")" if high_open else "]")
        interval = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be {allowed or interval}, got {value!r}")


def check_typed(name: str, value: object, annotation: str) -> None:
    """Check ``value`` against a declared type given as source text: ``float``, ``int``, ``bool``, ``str``,
    each optionally ``| None`` (values parsed from text meet their type here, before any work).
    """
    base, _, optional = annotation.partition("|")
    base = base.strip()
    if value is None and optional.strip() == "None":
        return
    if base in ("float", "int"):
        check_number(name, value, integer=base == "int")
    elif base == "bool" and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    elif base == "str" and not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")


def check_list(name: str, value: object, annotation: str) -> None:
    """Check that ``value`` is a list (or tuple) of entries of the declared type ``annotation``
    (``seeds=3`` is one value where several are asked for).
    """
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list, got {value!r}")
    for item in value:
        check_typed(f"{name} entry", item, annotation)


def check_like(name: str, value: Any, example: Any) -> None:
    """Check that ``value`` has the kind of ``example`` (a list: of its first entry's kind) and holds no NaN
    or infinity; an ``example`` of ``None`` takes anything finite. For a papermill ``-p`` parameter against its
    default in the notebook's ``parameters`` cell, before any notebook runs.
    """
    kinds = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"))
    declared = next((text for python, text in kinds if isinstance(example, python)), None)
    if declared is not None:
        check_typed(name, value, declared)
    elif isinstance(example, (list, tuple)):
        if not isinstance(value, list):
            raise ValueError(f"{name} must be a list like its default {list(example)!r}, got {value!r}")
        for item in value:
            check_like(f"{name} entry", item, example[0] if example else None)
    elif isinstance(value, float):
        check_number(name, value)  # finite
    elif isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            check_like(f"{name} entry", item, None)


def check_columns(name: str, frame: Any, columns: Sequence[str]) -> None:
    """Check that the table ``frame`` (anything with ``.columns``, a pandas frame) has every one of ``columns``;
    the error lists the missing ones and those it has."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; it has {list(frame.columns)}")
