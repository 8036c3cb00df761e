"""Checks of values a user passes in: each raises ``ValueError`` quoting the bad value and what is allowed.

Used wherever input arrives (configs, loss options, CLI values, notebook parameters), so every message has
one form: ``<name> <value> is not allowed; choose one of: ...`` or ``<name> must be in [low, high], got <value>``.
"""

from __future__ import annotations

import math

__all__ = ["check_choice", "check_number", "check_typed"]


def check_choice(name: str, value: object, allowed: tuple[str, ...] | list[str]) -> None:
    """Check that ``value`` is one of ``allowed``; the error names the value and lists the choices."""
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not allowed; choose one of: {', '.join(allowed)}")


def check_number(name: str, value: object, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, integer: bool = False) -> None:
    """Check that ``value`` is a finite number (an ``int`` if ``integer``) in the stated interval.

    ``bool`` is refused although it is an ``int`` (``lr=True`` is a mistake, not 1.0), and so are NaN and
    +-inf: each would pass a range check (NaN compares false to every bound) and then train until it diverges.
    """
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


def check_typed(name: str, value: object, annotation: str) -> None:
    """Check ``value`` against a declared type, given as its source text: ``float``, ``int``, ``bool``, ``str``,
    each optionally ``| None``. Numbers go through :func:`check_number` (finite; ``int`` for ``int``).

    Values parsed from text (``--loss-option pos=abc`` is the string ``'abc'``, ``shift=3`` the int 3)
    meet their declared type here, before any work, instead of failing deep inside a run.
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
