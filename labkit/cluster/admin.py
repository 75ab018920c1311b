"""Cluster-wide admin chores: resetting the lab (topics and groups), creating topics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labkit.exceptions import LabkitError

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster


def lab_topics(cluster: Cluster) -> list[str]:
    """Every topic but Kafka's and labkit's internal ones (names starting with '__')."""
    md = cluster.admin().list_topics(timeout=10)
    return sorted(t for t in md.topics if not t.startswith("__"))


def lab_groups(cluster: Cluster) -> list[str]:
    result = cluster.admin().list_consumer_groups().result(timeout=10)
    return sorted(g.group_id for g in result.valid)


def delete_groups(cluster: Cluster, groups: list[str]) -> None:
    if not groups:
        return
    futures = cluster.admin().delete_consumer_groups(groups, request_timeout=10)
    for group, fut in futures.items():
        try:
            fut.result(timeout=15)
        except Exception as exc:
            if "GROUP_ID_NOT_FOUND" not in str(exc):
                raise LabkitError(
                    f"could not delete consumer group {group!r} ({exc}); stop its consumers "
                    "(e.g. restart the notebook kernel) and try again"
                ) from None


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


def reset(cluster: Cluster) -> tuple[list[str], list[str]]:
    """Delete the lab's consumer groups and topics; keep the cluster (and internal topics)."""
    groups = lab_groups(cluster)
    delete_groups(cluster, groups)
    topics = lab_topics(cluster)
    delete_topics(cluster, topics)
    return topics, groups
