"""Cluster-wide chores (labkit/cluster/admin.py) against the real cluster."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer

import labkit
from labkit.exceptions import LabkitError
from labkit.kafka import delete_groups


def test_deleting_a_group_with_members_fails_clearly(cluster: labkit.Cluster, topic: str,
                                                      group: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    consumer = Consumer(cluster.config(group_id=group))
    try:
        consumer.subscribe([topic])
        cluster.wait_for("the consumer to join", lambda: consumer.poll(0.2) is None
                         and bool(consumer.assignment()), timeout=60)
        with pytest.raises(LabkitError, match=f"{group!r} still has members after 2s"):
            delete_groups(cluster, [group], timeout=2)
    finally:
        consumer.close()
    delete_groups(cluster, [group])  # gone once its member left
    delete_groups(cluster, [group])  # and deleting it again is no error
