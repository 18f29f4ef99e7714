"""The run options every reproduction shares (``iterations``, ``repetitions``), checked in one place.

``None`` means "the experiment's default"; anything else must be an integer >= 1.  (``0`` is an
error, not a request for the default.)
"""
from __future__ import annotations

from typing import Optional


def count_option(name: str, value: Optional[int], default: Optional[int] = None, unit: str = "") -> int:
    """``value`` (``default`` when ``value`` is None) as an int >= 1.

    Raises ValueError naming ``name`` (and ``unit``, e.g. "1000-step blocks") otherwise."""
    v = default if value is None else value
    if v is None or int(v) != v or int(v) < 1:
        what = f" (a positive number of {unit})" if unit else ""
        raise ValueError(f"{name} must be >= 1{what}, got {value!r}")
    return int(v)
