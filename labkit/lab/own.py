"""A class-cluster student's names in a check's arguments: ``check.committed("lesson00.r",
TOPIC, ...)`` looks at ``s01.lesson00.r`` when the lab runs as student ``s01``
(see :mod:`labkit.kafka.names`)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

from labkit.cluster import resolve
from labkit.exceptions import LabkitError
from labkit.settings import Settings

NAMED = ("topic", "group", "source", "output")  # the parameters that name a topic or group


def qualify_arguments(fn: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` of a call to ``fn`` with each topic or group name as the
    cluster's student must use it; unchanged outside a class cluster."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except TypeError:  # a wrong call: fn itself says what is wrong
        return args, kwargs
    named = [k for k in NAMED if isinstance(bound.arguments.get(k), str)]
    cluster = bound.arguments.get("cluster")
    if not named or (cluster is None and Settings.from_env().client_config is None):
        return args, kwargs
    with contextlib.suppress(LabkitError):  # no cluster: fn reports that itself
        c = cluster if cluster is not None else resolve(None)
        for k in named:
            bound.arguments[k] = c.name(bound.arguments[k])
    return bound.args, bound.kwargs


__all__ = ["qualify_arguments"]
