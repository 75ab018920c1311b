"""Cluster-wide admin chores: resetting the lab (topics and groups), creating topics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from labkit.exceptions import LabkitError

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster


def lab_topics(cluster: Cluster) -> list[str]:
    """Every topic but Kafka's and labkit's internal ones (names starting with '__')."""
    md = cluster.admin().list_topics(timeout=10)
    return sorted(t for t in md.topics if not t.startswith("__"))


def lab_groups(cluster: Cluster) -> list[str]:
    from labkit.cluster.clients import group_ids

    return group_ids(cluster.admin(), timeout=10)


def delete_groups(cluster: Cluster, groups: list[str], *, timeout: float = 30.0) -> None:
    """Delete consumer groups. A group whose members are still there (e.g. a kernel that
    crashed a moment ago), or whose coordinator is moving, is retried until its members'
    sessions expire or the coordinator answers, up to ``timeout``."""
    from labkit.cluster.clients import coordinator_admin, coordinator_moving

    pending = list(groups)
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while pending:
        busy: list[str] = []
        with coordinator_admin(cluster.config()) as admin:
            futures = admin.delete_consumer_groups(pending, request_timeout=10)
            for group, fut in futures.items():
                try:
                    fut.result(timeout=15)
                except Exception as exc:
                    if "GROUP_ID_NOT_FOUND" in str(exc):
                        continue
                    if "NON_EMPTY_GROUP" not in str(exc) and not coordinator_moving(exc):
                        raise LabkitError(f"could not delete consumer group {group!r}: "
                                          f"{exc}") from None
                    busy.append(group)
                    last[group] = "NON_EMPTY_GROUP" if "NON_EMPTY_GROUP" in str(exc) else str(exc)
        if busy and time.monotonic() > deadline:
            if last[busy[0]] != "NON_EMPTY_GROUP":  # its coordinator never answered
                raise LabkitError(f"could not delete consumer group {busy[0]!r} within "
                                  f"{timeout:.0f}s: {last[busy[0]]}")
            raise LabkitError(
                f"consumer group {busy[0]!r} still has members after {timeout:.0f}s; stop its "
                "consumers (e.g. restart the notebook kernel that runs them) and try again"
            )
        pending = busy
        if pending:
            time.sleep(0.5)


def delete_topics(cluster: Cluster, topics: list[str], *, timeout: float = 30.0) -> None:
    """Delete ``topics`` and wait until the metadata no longer lists them."""
    if not topics:
        return
    futures = cluster.admin().delete_topics(topics, operation_timeout=timeout)
    for topic, fut in futures.items():
        try:
            fut.result(timeout=timeout)
        except Exception as exc:
            if "UNKNOWN_TOPIC" not in str(exc):
                raise LabkitError(f"could not delete topic {topic!r}: {exc}") from None
    cluster.wait_for(
        f"topics {topics} to disappear from the metadata",
        lambda: not set(topics) & set(cluster.admin().list_topics(timeout=5).topics),
        timeout=timeout,
    )


def reset(cluster: Cluster, prefix: str = "") -> tuple[list[str], list[str]]:
    """Delete the lab's consumer groups and topics whose names start with ``prefix`` (all of
    them by default); keep the cluster and its internal topics."""
    groups = [g for g in lab_groups(cluster) if g.startswith(prefix)]
    delete_groups(cluster, groups)
    topics = [t for t in lab_topics(cluster) if t.startswith(prefix)]
    delete_topics(cluster, topics)
    return topics, groups


def fresh_topic(
    cluster: Cluster,
    name: str,
    *,
    partitions: int = 3,
    replication_factor: int | None = None,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    """(Re)create ``name`` empty: deleted first if it exists, so a notebook can run twice.
    Waits until every partition has a leader. Replication defaults to min(3, nodes)."""
    from confluent_kafka.admin import NewTopic

    if name in cluster.admin().list_topics(timeout=10).topics:
        delete_topics(cluster, [name], timeout=timeout)
    rf = replication_factor or min(3, len(cluster.nodes))
    new = NewTopic(name, partitions, rf, config=dict(config or {}))

    # a topic deleted a moment ago can be refused for a short while: retry until accepted;
    # a bad setting is a definite answer, reported at once
    deadline = time.monotonic() + timeout
    while True:
        fut = cluster.admin().create_topics([new], operation_timeout=timeout)[name]
        try:
            fut.result(timeout=timeout)
            break
        except Exception as exc:
            text = str(exc)
            if "TOPIC_ALREADY_EXISTS" in text:
                break
            if "INVALID_CONFIG" in text or "INVALID_REPLICATION" in text or "POLICY" in text:
                raise LabkitError(f"topic {name!r} cannot be created: {text}") from None
            if time.monotonic() > deadline:
                raise LabkitError(f"topic {name!r} was not created within {timeout:.0f}s: "
                                  f"{text}") from None
        time.sleep(0.2)

    def led() -> bool:
        t = cluster.admin().list_topics(topic=name, timeout=5).topics[name]
        return len(t.partitions) == partitions and all(p.leader >= 0 for p in t.partitions.values())

    cluster.wait_for(f"leaders for every partition of {name!r}", led, timeout=timeout)
    return name
