"""Moments: labkit's own actions, announced to whoever listens (the running live charts).

A node stopped, a service paused, a group's offsets reset: the code doing it calls
``announce("node 2 stopped")``; every chart that is running marks it. This module is at the
bottom of labkit's layers so that backends and the toolkit can announce without knowing about
charts (the teaching UI subscribes from above).

>>> def show(label: str, when: float) -> None: ...
>>> with listening(show):          # or subscribe(show) ... unsubscribe(show)
...     announce("producer paused")  # show("producer paused", time.monotonic())

Thread-safe: actions run in any thread; listeners are called in the announcing thread, must
be quick, and their errors are swallowed (an action never fails because a chart did).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Listener", "announce", "listeners", "listening", "subscribe", "unsubscribe"]

Listener = Callable[[str, float], None]
"""Called with the label and the ``time.monotonic()`` of the moment."""

_LOCK = threading.Lock()
_LISTENERS: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call ``listener(label, monotonic_time)`` for every moment from now on."""
    with _LOCK:
        _LISTENERS.append(listener)


def unsubscribe(listener: Listener) -> None:
    """Stop calling ``listener`` (a listener that is not subscribed is ignored)."""
    with _LOCK:
        for i, known in enumerate(_LISTENERS):
            if known == listener:  # == (not is): bound methods are new objects each time
                del _LISTENERS[i]
                return


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Subscribe ``listener`` for the duration of a ``with`` block."""
    subscribe(listener)
    try:
        yield
    finally:
        unsubscribe(listener)


def listeners() -> int:
    """How many listeners are subscribed (0 when no chart runs)."""
    with _LOCK:
        return len(_LISTENERS)


def announce(label: str) -> None:
    """Tell every listener that ``label`` happened just now (cheap when nobody listens)."""
    if not _LISTENERS:  # read without the lock: a list's truth value is atomic
        return
    when = time.monotonic()
    with _LOCK:
        current = list(_LISTENERS)
    for listener in current:
        try:
            listener(str(label), when)
        except Exception:  # a chart's trouble must never break the action
            continue
