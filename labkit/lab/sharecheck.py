"""Exercise checks for share groups (lesson 09), in the manner of :mod:`labkit.lab.check`.

:func:`group_settings`: a share group has the settings asked for, as the broker keeps them.
:func:`drained`: a share group has worked through a whole topic: on every partition its lag
is 0 (every record up to the end of the log acknowledged or archived, none waiting, none
held), as ``kafka-share-groups --describe`` reports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from labkit.cluster import resolve
from labkit.exceptions import ClusterTimeoutError
from labkit.kafka.offsets import watermarks
from labkit.lab.check import CheckResult, _check, _missing, _parts
from labkit.shares import describe, group_config
from labkit.waiting import poll_until

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["drained", "group_settings"]

SETTLE = 5.0  # seconds a group setting may take to reach the broker that answers


@_check
def group_settings(group: str, expected: Mapping[str, object], *,
                   cluster: Cluster | None = None) -> CheckResult:
    """``group``'s settings on the broker include ``expected`` (``{"share.auto.offset.reset":
    "earliest", ...}``; values compared as text)."""
    name = "group_settings"
    c = resolve(cluster)
    now: dict[str, str] = {}

    def differences() -> list[str]:
        return [f"{k} is {now.get(k, 'not set')!r}, expected {str(v)!r}"
                for k, v in expected.items() if now.get(k) != str(v)]

    def agreed() -> bool:  # a setting just made reaches every broker within a moment
        now.update(group_config(group, cluster=c))
        return not differences()

    with contextlib.suppress(ClusterTimeoutError):
        poll_until(f"share group {group!r}'s settings", agreed, timeout=SETTLE, interval=0.3)
    wrong = differences()
    if wrong:
        return CheckResult(False, f"share group {group!r}: " + "; ".join(wrong) + " (set "
                           "group settings with incremental_alter_configs on a GROUP "
                           "resource)", name)
    return CheckResult(True, f"share group {group!r} has {dict(expected)}", name)


@_check
def drained(group: str, topic: str, *, cluster: Cluster | None = None) -> CheckResult:
    """Share group ``group`` has acknowledged (or archived) every record of ``topic`` up to
    the end the log has now, and holds none."""
    name = "drained"
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    ends = {p: m.high_watermark for (_t, p), m in
            watermarks(c, [(topic, p) for p in parts]).items()}
    state = describe(group, cluster=c)
    state = state[state["topic"] == topic].set_index("partition")
    if state.empty:
        return CheckResult(False, f"share group {group!r} has not started on {topic!r}: no "
                           "member of it has fetched from the topic yet", name)
    behind = []
    for p in parts:
        lag = state["lag"].get(p)
        if lag is None or lag > 0:
            behind.append(f"partition {p}: {'?' if lag is None else lag} record(s) not "
                          f"acknowledged (log end {ends[p]})")
    if behind:
        return CheckResult(False, f"share group {group!r} still has records of {topic!r} "
                           "waiting or held (not acknowledged): " + "; ".join(behind) +
                           ". Acknowledge each record and commit before close()", name)
    return CheckResult(True, f"share group {group!r} has worked through all of {topic!r} "
                       f"(up to {ends})", name)
