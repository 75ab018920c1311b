"""What a lesson cell needs before it can teach anything: a background producer or service
that a slow student may have outlived, stopped, or lost to an error.

A lesson's background load runs until the lesson stops it; a cell that needs it running asks
:func:`still_running` first, and when it is not, the student reads which cell to run again
instead of a failing assert further down.
"""

from __future__ import annotations

from typing import Any

from labkit.exceptions import StateError, UsageError

__all__ = ["still_running"]


def _describe(handle: Any) -> str:
    name = getattr(handle, "name", None) or getattr(handle, "topic", None)
    kind = type(handle).__name__
    return f"{kind} {name!r}" if name else kind


def still_running(handle: Any, *, rerun: str) -> Any:
    """Return ``handle`` (a :func:`labkit.produce` handle, a :class:`labkit.Service`, ...) if
    it runs; else raise :class:`StateError` saying it stopped (and why, if it failed) and
    which cell to run again (``rerun``, e.g. "the cell of section 1 that starts it")."""
    if not isinstance(rerun, str) or not rerun.strip():
        raise UsageError("still_running(handle, rerun=...) needs the cell to run again, e.g. "
                         "rerun='section 1: the cell that starts the accounts service'")
    if not hasattr(handle, "running"):
        raise UsageError(f"still_running() takes a producer handle or a Service, not "
                         f"{type(handle).__name__}")
    if handle.running:
        return handle
    errors = list(getattr(handle, "errors", None) or [])
    why = f" after an error: {errors[0]}" if errors else ""
    raise StateError(f"{_describe(handle)} is not running any more{why}; this cell needs it. "
                     f"Run again {rerun.strip()}, then this cell.")
