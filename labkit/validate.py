"""Argument checks shared by every public helper: one line naming the input and the fix,
raised as :class:`labkit.exceptions.UsageError` (a ValueError) before anything is sent."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from labkit.exceptions import UsageError

T = TypeVar("T")


def choice(name: str, value: Any, allowed: Iterable[T]) -> T:
    """``value`` if it is one of ``allowed``, else a UsageError listing them (and the
    closest, for a typo: ``spec='lates'`` -> did you mean 'latest'?)."""
    options = list(allowed)
    if isinstance(value, str | int | float | bool | None) and value in options:
        return value
    shown = ", ".join(repr(o) for o in options)
    near = (difflib.get_close_matches(value, [str(o) for o in options], n=1)
            if isinstance(value, str) else [])
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise UsageError(f"{name}={value!r} is not valid; use one of {shown}{hint}")


def name(what: str, value: Any) -> str:
    """A non-empty string (a topic, group or scenario name)."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{what}={value!r} is not valid; give a {what} name (a non-empty "
                         "string)")
    return value


def positive(what: str, value: Any, *, whole: bool = False, optional: bool = False) -> Any:
    """A number above 0 (an int if ``whole``); None too if ``optional``."""
    if value is None and optional:
        return None
    kinds: tuple[type[int | float], ...] = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        kind = "a whole number" if whole else "a number"
        extra = " or None" if optional else ""
        raise UsageError(f"{what}={value!r} is not valid; use {kind} above 0{extra}")
    return value


def non_negative(what: str, value: Any) -> int:
    """A whole number >= 0 (an offset, a partition)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{what}={value!r} is not valid; use a whole number >= 0")
    return value


def aware(what: str, value: datetime) -> datetime:
    """A timezone-aware datetime (a naive one is ambiguous: local time or UTC?)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"{what}={value!r} has no timezone; use e.g. "
                         "datetime.now(timezone.utc) or pd.Timestamp(..., tz='UTC')")
    return value


def near(value: str, known: Iterable[str]) -> str:
    """``; did you mean a, b?`` for a mistyped ``value`` among ``known`` (or '')."""
    close = difflib.get_close_matches(value, list(known), n=3)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


__all__ = ["aware", "choice", "name", "near", "non_negative", "positive"]
