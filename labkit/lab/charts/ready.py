"""Ready-made charts of the cluster. The numbers come from the query layer (labkit.kafka);
charts only draw. Each says its unit; :func:`assignment` and :func:`isr_grid` are strip charts
(who owns each partition; each replica's state) built from pure functions of one sample."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.exceptions import ChartError
from labkit.kafka.groups import describe as describe_group
from labkit.kafka.groups import progress
from labkit.kafka.names import qualify
from labkit.kafka.offsets import offsets
from labkit.kafka.topics import describe, metadata, partition_ids
from labkit.lab.charts.live import MIN_INTERVAL, LiveChart
from labkit.lab.charts.strips import StripChart

if TYPE_CHECKING:
    from labkit.cluster import Cluster

LEADER, IN_SYNC, OUT_OF_SYNC, OFFLINE = ("leader", "follower in sync", "follower out of sync",
                                         "offline")
REPLICA_COLOURS = {LEADER: "#1a7f37", IN_SYNC: "#8fd19e", OUT_OF_SYNC: "#f0a030",
                   OFFLINE: "#d62728"}
"""The colour of each replica state in :func:`isr_grid`."""


def _nan(value: int | None) -> float:
    return math.nan if value is None else float(value)


def _topics(topics: str | Iterable[str]) -> list[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise ChartError("no topics given; pass a topic name or a list of them")
    return names


def throughput(topics: str | Iterable[str], *, cluster: Cluster | None = None,
               interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """Events per second written to each topic (change of the summed high watermarks)."""
    c, names = resolve(cluster), _topics(topics)
    for t in names:
        partition_ids(c, t)

    def ends() -> dict[str, float]:  # NaN (a gap) while a partition has no leader
        return {t: sum(_nan(o) for o in offsets(c, t).values()) for t in names}

    chart = LiveChart(title="throughput", interval=interval, window=window)
    return chart.add_series("", ends, rate=True, unit="events")


def log_end_offsets(topic: str, *, cluster: Cluster | None = None,
                    interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """The high watermark of every partition of ``topic`` (the offset the next record
    gets, once replicated)."""
    c = resolve(cluster)
    partition_ids(c, topic)
    chart = LiveChart(title=f"high watermarks of {topic!r}", interval=interval, window=window)
    return chart.add_series("", lambda: {f"p{p}": _nan(o) for p, o in offsets(c, topic).items()},
                            unit="offset")


def lag_chart(group: str, topic: str, *, cluster: Cluster | None = None,
              interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """Consumer lag of ``group`` per partition of ``topic``: high watermark minus committed
    offset (minus the log-start offset where the group has committed nothing yet)."""
    c = resolve(cluster)
    partition_ids(c, topic)

    def lag() -> dict[str, float]:
        return {f"p{p}": _nan(pr.lag) for p, pr in progress(c, group, topic).items()}

    chart = LiveChart(title=f"lag of group {group!r} on {topic!r}", interval=interval,
                      window=window)
    return chart.add_series("", lag, unit="events behind")


def isr_sizes(topic: str, *, cluster: Cluster | None = None,
              interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """How many replicas of each partition of ``topic`` are in sync."""
    c = resolve(cluster)
    partition_ids(c, topic)

    def sizes() -> dict[str, int]:
        md = describe(c, topic, timeout=5)
        return {f"p{p}": len(md.partitions[p].isrs) for p in sorted(md.partitions)}

    chart = LiveChart(title=f"in-sync replicas of {topic!r}", interval=interval, window=window)
    return chart.add_series("", sizes, unit="replicas")


def state_size(fn: Callable[[], Any], *, name: str = "state", interval: float = MIN_INTERVAL,
               window: float | None = None) -> LiveChart:
    """The size of some state while it is built (e.g. during a replay): ``fn()`` returns a
    number or something with a ``len``. Pair with ``run(seconds, task=...)``."""
    def size() -> float:
        value = fn()
        return float(len(value)) if hasattr(value, "__len__") else value

    chart = LiveChart(title=f"size of {name}", interval=interval, window=window)
    return chart.add_series(name, size, unit="entries")


# -- who owns which partition -------------------------------------------------------------------
def member_label(member: Any) -> str:
    """A group member, short and stable: its group.instance.id, else client id and the end of
    its member id (``rdkafka ·3f2a``)."""
    if getattr(member, "group_instance_id", None):
        return str(member.group_instance_id)
    client = getattr(member, "client_id", "") or "member"
    return f"{client} ·{str(member.member_id)[-4:]}"


def assignment_sample(description: Any, topic: str,
                      partitions: Iterable[int] = ()) -> dict[str, str | None]:
    """``p<n> -> member`` for ``topic`` from a group's description (``describe_group``);
    None for the ``partitions`` no member owns."""
    owners: dict[str, str | None] = {f"p{p}": None for p in sorted(partitions)}
    for m in getattr(description, "members", None) or []:
        parts = getattr(getattr(m, "assignment", None), "topic_partitions", None) or []
        for tp in parts:
            if tp.topic == topic:
                owners[f"p{tp.partition}"] = member_label(m)
    return dict(sorted(owners.items(), key=lambda kv: int(kv[0][1:])))


def assignment(group: str, topic: str, *, cluster: Cluster | None = None,
               interval: float = MIN_INTERVAL, window: float | None = None) -> StripChart:
    """Which member of ``group`` owns each partition of ``topic``, over time: one row per
    partition, coloured by member (blank: nobody). Rebalances show as colour changes."""
    c = resolve(cluster)
    group, topic = qualify(c, group), qualify(c, topic)  # a class student's own
    parts = partition_ids(c, topic)
    chart = StripChart(title=f"partitions of {topic!r} assigned in group {group!r}",
                       ylabel="partition", interval=interval, window=window)
    return chart.add_series("", lambda: assignment_sample(describe_group(c, group, timeout=5),
                                                          topic, parts))


# -- each replica's state -----------------------------------------------------------------------
def replica_states(partitions: Mapping[int, Any], live: Iterable[int]) -> dict[str, str | None]:
    """``"p<n> · node <id>" -> state`` from a topic's partition metadata (``.leader``,
    ``.replicas``, ``.isrs``) and the nodes that are up: leader, follower in sync, follower
    out of sync or offline; None where the node holds no replica of the partition."""
    up = set(live)
    nodes = sorted({n for p in partitions.values() for n in p.replicas})
    out: dict[str, str | None] = {}
    for pid in sorted(partitions):
        p = partitions[pid]
        for n in nodes:
            state = None
            if n in p.replicas:
                state = (OFFLINE if n not in up else LEADER if n == p.leader
                         else IN_SYNC if n in p.isrs else OUT_OF_SYNC)
            out[f"p{pid} · node {n}"] = state
    return out


def isr_grid(topic: str, *, cluster: Cluster | None = None, interval: float = MIN_INTERVAL,
             window: float | None = None) -> StripChart:
    """Each replica of each partition of ``topic`` over time: leader, follower in sync,
    follower out of sync, or offline (its node is down). One row per partition and node."""
    c = resolve(cluster)
    partition_ids(c, topic)

    def states() -> dict[str, str | None]:
        md = metadata(c, timeout=5)
        t = md.topics.get(topic)
        parts = t.partitions if t is not None and t.error is None else {}
        return replica_states(parts, md.brokers)

    chart = StripChart(title=f"replicas of {topic!r}: leaders and in-sync followers",
                       colours=REPLICA_COLOURS, interval=interval, window=window)
    return chart.add_series("", states)
