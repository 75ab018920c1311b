"""The one way labkit waits for something: :func:`poll_until`, and :class:`Deadline` for the
few loops that must do more than ask a question (e.g. consume while they wait).

Every timeout says what was waited for, how long, and the last error seen, plus a hint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from labkit.exceptions import CheckFailed, ClusterTimeoutError, KafkaRequestError, LabkitError

T = TypeVar("T")

TRANSIENT: tuple[type[LabkitError], ...] = (ClusterTimeoutError, KafkaRequestError,
                                           CheckFailed)
"""labkit errors that may go away by asking again: the cluster is settling, or a check used
as the condition of a wait has not passed yet (with solutions on, a failing check raises)."""


class Deadline:
    """A point in time ``timeout`` seconds from now, for a loop that checks it itself."""

    def __init__(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self.start = time.monotonic()
        self.at = self.start + self.timeout

    @property
    def left(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def clamp(self, most: float, least: float = 0.1) -> float:
        """A per-request timeout: what is left, between ``least`` and ``most`` seconds."""
        return max(least, min(most, self.left))


def timeout_message(what: str, timeout: float, last: object = None, hint: str = "") -> str:
    """``timed out after 30 s waiting for X (last error: …); Hint: …`` on one line."""
    text = f"timed out after {timeout:g} s waiting for {what}"
    if last is not None and str(last):
        text += f" (last: {' '.join(str(last).split())})"
    return text + (f"; Hint: {hint}" if hint else "")


def poll_until(
    what: str,
    fn: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.1,
    hint: str = "",
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    error: type[LabkitError] = ClusterTimeoutError,
    describe: Callable[[T], object] | None = None,
) -> T:
    """Call ``fn()`` every ``interval`` seconds until it returns something truthy, and return
    that. Exceptions of the ``retry_on`` types count as "not yet" (the last is reported); any
    other propagates at once, and so does labkit's own definite answer (any LabkitError but
    the TRANSIENT ones: a timeout, a request the cluster refused) unless ``retry_on`` names
    it.
    After ``timeout`` seconds raise ``error`` naming ``what``, the time waited, the last
    error (or ``describe(last value)``) and ``hint``."""
    deadline = Deadline(timeout)
    last: object = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = describe(value) if describe is not None else last
        except retry_on as exc:
            if Exception in retry_on and isinstance(exc, LabkitError) and not isinstance(
                    exc, TRANSIENT):
                raise  # a definite answer (a bad argument, a node that died): do not ask again
            last = f"{type(exc).__name__}: {exc}"
        if deadline.passed:
            raise error(timeout_message(what, timeout, last, hint))
        time.sleep(min(interval, deadline.left) or 0.0)


__all__ = ["Deadline", "poll_until", "timeout_message"]
