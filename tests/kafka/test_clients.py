"""labkit's shared clients (labkit/kafka/clients.py) against the real cluster."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import labkit
from labkit.exceptions import UnknownTopicError
from labkit.kafka import committed
from labkit.kafka.clients import MAX_READERS, coordinator_admin, open_readers
from tests.conftest import elect_preferred_leaders, produce_records

# Reads committed offsets in two threads, and the group's lag (describe + offsets) in a
# third, until stdin closes; then prints what it saw.
READER = textwrap.dedent("""
    import json, sys, threading
    import labkit
    from labkit.inspect import lag
    from labkit.kafka import committed

    cluster, group, topic = labkit.connect(start=False), sys.argv[1], sys.argv[2]
    calls, errors, done = [0], [], threading.Event()

    def loop(read):
        while not done.is_set():
            try:
                read()
                calls[0] += 1
            except labkit.LabkitError as exc:  # collected; the test asserts there are none
                errors.append(str(exc))

    offsets = lambda: committed(cluster, group, [topic])
    threads = [threading.Thread(target=loop, args=(read,))
               for read in (offsets, offsets, lambda: lag(group, topic, cluster=cluster))]
    for t in threads:
        t.start()
    print("reading", flush=True)
    sys.stdin.read()
    done.set()
    for t in threads:
        t.join(60)
    last = committed(cluster, group, [topic])
    print(json.dumps({"calls": calls[0], "errors": errors[:3],
                      "last": {str(p): o for (_t, p), o in last.items()}}))
""")


def _commit(cluster: labkit.Cluster, topic: str, group: str, offsets: dict[int, int]) -> None:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False))
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
                        asynchronous=False)
    finally:
        consumer.close()


def test_committed(cluster: labkit.Cluster, topic: str, group: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    produce_records(cluster, topic, [{"value": b"x", "partition": p} for p in (0, 0, 1)])
    assert committed(cluster, group, [topic]) == {}
    _commit(cluster, topic, group, {0: 2, 1: 1})
    assert committed(cluster, group, [topic]) == {(topic, 0): 2, (topic, 1): 1}
    assert committed(cluster, group)[(topic, 0)] == 2  # default: every topic
    with pytest.raises(UnknownTopicError, match="no-such-topic"):
        committed(cluster, group, ["no-such-topic"])


def test_offset_readers_are_bounded(cluster: labkit.Cluster, topic: str, group: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    _commit(cluster, topic, group, {0: 0})
    others = [f"{group}-{i}" for i in range(MAX_READERS + 2)]
    try:
        for name in [group, *others]:  # the first reader is closed on the way...
            committed(cluster, name, [topic])
        assert open_readers() == MAX_READERS  # the public count, not the private cache
        assert committed(cluster, group, [topic]) == {(topic, 0): 0}  # ...and remade
    finally:
        from labkit.kafka import delete_groups

        delete_groups(cluster, others)


def test_reading_offsets_survives_the_coordinator_stopping(cluster: labkit.Cluster, topic: str,
                                                           group: str) -> None:
    """Regression: AdminClient.list_consumer_group_offsets crashed the process (SIGSEGV in
    librdkafka) when its coordinator went away; labkit reads through a group consumer. And
    ``lag(group)`` failed while the group's coordinator moved or loaded: the group was
    missing from the group list, or describing it answered "not coordinator"."""
    if len(cluster.nodes) < 3:
        pytest.skip("needs the 3-node cluster (the group must survive its coordinator)")
    cluster.fresh_topic(topic, partitions=3, replication_factor=3)
    _commit(cluster, topic, group, {0: 0, 1: 0, 2: 0})
    with coordinator_admin(cluster.config()) as admin:
        desc = admin.describe_consumer_groups([group])[group].result(timeout=15)
    coordinator = desc.coordinator.id
    reader = subprocess.Popen([sys.executable, "-c", READER, group, topic], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "reading"
        cluster.stop_node(coordinator)  # its groups move to other nodes, which load them
        cluster.start_node(coordinator)
        # ...and back to it, as Kafka's periodic preferred-leader election would do later
        elect_preferred_leaders(cluster)
        out, err = reader.communicate("", timeout=120)
    finally:
        if reader.poll() is None:
            reader.kill()
        if not {n.id: n.alive for n in cluster.nodes}[coordinator]:
            cluster.start_node(coordinator)
    assert reader.returncode == 0, f"reader died with {reader.returncode}: {err[-2000:]}"
    seen = json.loads(out.splitlines()[-1])
    assert seen["calls"] > 0 and seen["errors"] == [], seen  # every read answered, none failed
    assert seen["last"] == {"0": 0, "1": 0, "2": 0}, seen
