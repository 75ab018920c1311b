"""Inspectors: the cluster's real state as tidy pandas DataFrames, sorted, one row per thing.

``topics``, ``partitions``, ``groups``, ``lag`` and ``nodes`` ask the brokers (through the
query layer, :mod:`labkit.kafka`); ``segments`` and ``dump_segment`` look at a partition's
files on disk (:mod:`labkit.segments`; backends that expose the nodes' disks). Each takes
``cluster=`` (default: the running lab cluster) and never starts a cluster. Values the
cluster cannot give right now (a partition without a leader) are ``<NA>``.

Offsets use Kafka's words: ``log_start`` (the first offset still in the log) and
``high_watermark`` (the offset after the last record replicated to every in-sync replica,
the end a consumer reads up to); see :mod:`labkit.kafka.offsets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from labkit.cluster import resolve
from labkit.exceptions import NotFoundError, UnknownGroupError, UnknownTopicError
from labkit.kafka import clients
from labkit.kafka.groups import group_ids, unknown_group
from labkit.kafka.offsets import watermarks
from labkit.kafka.topics import describe, listing, metadata, topic_configs
from labkit.segments import dump_segment, segments
from labkit.validate import name

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["NotFoundError", "UnknownGroupError", "UnknownTopicError", "dump_segment",
           "groups", "lag", "nodes", "partitions", "segments", "topics"]

TIMEOUT = clients.TIMEOUT


def _na(value: int | None) -> Any:
    return pd.NA if value is None else value


def _frame(rows: list[dict[str, Any]], columns: list[str],
           ints: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame with these columns even when empty; ``ints`` nullable."""
    df = pd.DataFrame(rows, columns=columns)
    for col in ints:
        df[col] = df[col].astype("Int64")
    return df


def topics(*, cluster: Cluster | None = None, internal: bool = False) -> pd.DataFrame:
    """One row per topic: ``topic, partitions, replication_factor, messages, cleanup.policy,
    retention.ms``. ``messages`` is the offset span (sum of high watermark − log start): on
    compacted or transactional topics it counts removed records and markers too.
    ``internal=True`` adds Kafka's own topics (names starting with ``__``)."""
    c = resolve(cluster)
    meta = listing(c, internal=internal)
    marks = watermarks(c, [(n, p) for n, t in meta.items() for p in t.partitions])
    configs = topic_configs(c, list(meta), strict=False)  # a topic deleted meanwhile: none
    rows = []
    for n, t in meta.items():
        spans = [marks[(n, p)].records for p in t.partitions]
        conf = configs.get(n, {})
        retention = conf.get("retention.ms")
        rows.append({
            "topic": n, "partitions": len(t.partitions),
            "replication_factor": max((len(p.replicas) for p in t.partitions.values()),
                                      default=0),
            "messages": pd.NA if None in spans else sum(s for s in spans if s is not None),
            "cleanup.policy": conf["cleanup.policy"].value if "cleanup.policy" in conf else None,
            "retention.ms": int(retention.value) if retention is not None else pd.NA})
    cols = ["topic", "partitions", "replication_factor", "messages", "cleanup.policy",
            "retention.ms"]
    return _frame(rows, cols, ints=("messages", "retention.ms"))


def partitions(topic: str, *, cluster: Cluster | None = None) -> pd.DataFrame:
    """One row per partition of ``topic``: ``partition, leader, replicas, isr, log_start,
    high_watermark, messages`` (``messages`` = high watermark − log start; ``leader`` is -1
    while the partition has none)."""
    c = resolve(cluster)
    topic = c.name(topic)  # a class student's own name
    t = describe(c, topic)
    marks = watermarks(c, [(topic, p) for p in t.partitions])
    rows = []
    for p in sorted(t.partitions):
        meta, m = t.partitions[p], marks[(topic, p)]
        rows.append({"partition": p, "leader": int(meta.leader), "replicas": list(meta.replicas),
                     "isr": list(meta.isrs), "log_start": _na(m.log_start),
                     "high_watermark": _na(m.high_watermark), "messages": _na(m.records)})
    cols = ["partition", "leader", "replicas", "isr", "log_start", "high_watermark", "messages"]
    return _frame(rows, cols, ints=("log_start", "high_watermark", "messages"))


def groups(*, cluster: Cluster | None = None, group: str | None = None) -> pd.DataFrame:
    """One row per consumer group and partition it has committed or been assigned:
    ``group, topic, partition, committed, high_watermark, lag, state, members, member``.
    ``committed`` is ``<NA>`` where the group committed nothing (then ``lag`` too);
    ``lag`` = high watermark − committed; ``member`` is the member id owning the partition
    now (None if unassigned). A group without either has one row with empty topic.
    ``group``: only that one (UnknownGroupError, with the closest names, if there is none)."""
    c = resolve(cluster)
    if group is not None:
        group = c.name(name("group", group))
    names = [group] if group is not None else group_ids(c)
    meta = listing(c)
    everywhere = [(t, p) for t, m in meta.items() for p in m.partitions]
    descs = clients.describe_groups(c.config(), names, timeout=TIMEOUT)
    found = [(n, descs[n],
              {(tp.topic, tp.partition): m.member_id for m in descs[n].members
               for tp in (m.assignment.topic_partitions or [])},
              clients.committed(c.config(), n, everywhere, timeout=TIMEOUT)) for n in names]
    if group is not None and found[0][1].state.name == "DEAD" and not found[0][3]:
        raise unknown_group(c, group)  # asked for by name: described, not looked up in a list
    marks = watermarks(c, sorted({tp for *_, owner, done in found for tp in {*owner, *done}
                                  if tp[0] in meta}))
    rows: list[dict[str, Any]] = []
    for n, desc, owner, commits in found:
        base = {"group": n, "state": desc.state.name, "members": len(desc.members)}
        tps = sorted(set(owner) | set(commits))
        if not tps:
            rows.append({**base, "topic": None, "partition": pd.NA, "committed": pd.NA,
                         "high_watermark": pd.NA, "lag": pd.NA, "member": None})
        for tp in tps:
            done = commits.get(tp)
            high = marks[tp].high_watermark if tp in marks else None
            lag_ = None if done is None or high is None else max(high - done, 0)
            rows.append({**base, "topic": tp[0], "partition": tp[1], "committed": _na(done),
                         "high_watermark": _na(high), "lag": _na(lag_),
                         "member": owner.get(tp)})
    cols = ["group", "topic", "partition", "committed", "high_watermark", "lag", "state",
            "members", "member"]
    return _frame(rows, cols, ints=("partition", "committed", "high_watermark", "lag"))


def lag(group: str, topic: str | None = None, *, cluster: Cluster | None = None) -> pd.DataFrame:
    """Per-partition lag of ``group`` (on ``topic`` only, if given):
    ``topic, partition, committed, high_watermark, lag``."""
    c = resolve(cluster)
    if topic is not None:
        topic = c.name(topic)
        describe(c, topic)  # an unknown topic: UnknownTopicError, not an empty table
    df = groups(cluster=c, group=group)
    df = df[df["topic"].notna()]
    if topic is not None:
        df = df[df["topic"] == topic]
    return df[["topic", "partition", "committed", "high_watermark", "lag"]].reset_index(drop=True)


def nodes(*, cluster: Cluster | None = None, internal: bool = False) -> pd.DataFrame:
    """One row per node: ``node, host, port, pid, alive, ready, quorum_leader, leaders``.
    ``alive``: the process runs (where the backend can tell; True elsewhere); ``ready``: the
    cluster's metadata lists it as a broker; ``quorum_leader``: it leads the KRaft controller
    quorum (where the backend can tell, else ``<NA>``); ``leaders``: partitions it leads (of
    lab topics, plus Kafka's own with ``internal``)."""
    c = resolve(cluster)
    md = metadata(c)  # brokers and leaders in one answer
    counts: dict[int, int] = {}
    for topic_name, t in md.topics.items():
        if internal or not topic_name.startswith("__"):
            for p in t.partitions.values():
                counts[p.leader] = counts.get(p.leader, 0) + 1
    leader = c.quorum_leader()
    known = {n.id: n for n in c.nodes}
    rows = []
    for node_id in sorted(set(known) | set(md.brokers)):
        n, b = known.get(node_id), md.brokers.get(node_id)
        host: str | None  # confluent_kafka types BrokerMetadata.host as None (str at runtime)
        if n is not None:
            host, port, pid, alive = n.host, n.port, n.pid, n.alive
        elif b is not None:  # in the metadata only: the backend does not know its process
            host, port, pid, alive = b.host, b.port, None, True
        else:
            continue  # not reached: node_id came from known or from md.brokers
        rows.append({"node": node_id, "host": host,
                     "port": port, "pid": pid,
                     "alive": alive, "ready": b is not None,
                     "quorum_leader": pd.NA if leader is None else node_id == leader,
                     "leaders": counts.get(node_id, 0)})
    df = _frame(rows, ["node", "host", "port", "pid", "alive", "ready", "quorum_leader",
                       "leaders"], ints=("pid",))
    df["quorum_leader"] = df["quorum_leader"].astype("boolean")
    return df
