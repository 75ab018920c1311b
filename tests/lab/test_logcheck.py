"""labkit.lab.logcheck against the real lab cluster: each check passes on the right state and
fails, with a hint naming the difference, on a wrong one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

import labkit
from labkit.codec import encode_fast
from labkit.events import CustomerUpdated
from labkit.lab import logcheck
from tests.conftest import produce_records


def _table(cluster: labkit.Cluster, topic: str, **config: str) -> None:
    cluster.fresh_topic(topic, partitions=1, cleanup_policy="compact", **config)
    history = [("c-1", {"n": 1}), ("c-2", {"n": 1}), ("c-1", {"n": 2}), ("c-3", {"n": 1})]
    produce_records(cluster, topic, [{"key": k, "value": json.dumps(v)} for k, v in history])


def test_deleted_and_table_equals_follow_tombstones(cluster: labkit.Cluster, topic: str) -> None:
    _table(cluster, topic)
    assert logcheck.table_equals({"c-1": {"n": 2}, "c-2": {"n": 1}, "c-3": {"n": 1}}, topic,
                                 cluster=cluster).passed
    assert logcheck.table_equals({"c-1": 2, "c-2": 1, "c-3": 1}, topic, field="n",
                                 cluster=cluster).passed
    before = logcheck.deleted(topic, ["c-3"], cluster=cluster)
    assert not before and "'c-3': its latest record (partition 0, offset 3) still has a value" \
        in before.message
    produce_records(cluster, topic, [{"key": "c-3", "value": None}])
    assert logcheck.deleted(topic, ["c-3"], cluster=cluster).passed
    too_many = logcheck.deleted(topic, ["c-1"], cluster=cluster)
    assert not too_many and "key 'c-3' was deleted too" in too_many.message
    stale = logcheck.table_equals({"c-1": {"n": 2}, "c-2": {"n": 1}, "c-3": {"n": 1}}, topic,
                                  cluster=cluster)
    assert not stale and "'c-3' only in replayed" in stale.message
    assert not logcheck.deleted("no-such-topic-h13b", ["x"], cluster=cluster)


def test_compacted_away_waits_for_the_cleaner(cluster: labkit.Cluster, topic: str) -> None:
    _table(cluster, topic, segment_ms="500", min_cleanable_dirty_ratio="0.01",
           delete_retention_ms="100")
    produce_records(cluster, topic, [{"key": "c-1", "value": None}])
    first = logcheck.compacted_away(topic, "c-1", cluster=cluster)
    assert not first and "still has 2 value(s)" in first.message
    feed = labkit.produce(iter([(f"k-{i % 5}".encode(), b"{}", []) for i in range(10_000)]),
                          topic, rate=20, seconds=40, cluster=cluster)  # rolls segments
    try:
        cluster.wait_for("the tombstone to be compacted away", timeout=40, predicate=lambda:
                         logcheck.compacted_away(topic, "c-1", cluster=cluster).passed)
    finally:
        feed.stop()
    assert logcheck.deleted(topic, ["c-1"], cluster=cluster).passed  # gone counts as deleted


def test_events_effects_and_a_durable_ledger(cluster: labkit.Cluster, topic: str,
                                             tmp_path: Path) -> None:
    cluster.fresh_topic(topic, partitions=1)
    events = list(labkit.get_scenario("pizza-customers", seed=2, customers=5, limit=30))
    labkit.produce_all(events, topic, cluster=cluster, progress=False)
    last = events[-1]
    data = json.loads(last.value)
    assert logcheck.latest_event(topic, last.key.decode(), "CustomerUpdated",
                                 version=data["version"], cluster=cluster).passed
    wrong = logcheck.latest_event(topic, last.key.decode(), "CustomerUpdated",
                                  version=data["version"] + 1, cluster=cluster)
    assert not wrong and f"version: topic has {data['version']}" in wrong.message
    moved = CustomerUpdated.model_validate({**data, "version": data["version"] + 1})
    produce_records(cluster, topic, [dict(zip(("key", "value", "headers"),
                                              encode_fast(moved), strict=True))])
    assert logcheck.latest_event(topic, last.key.decode(), "CustomerUpdated",
                                 version=data["version"] + 1, cluster=cluster).passed

    def select(e: object) -> bool:
        return e.name == "CustomerUpdated"  # type: ignore[attr-defined]

    once = [e.key for e in labkit.replay(topic, lambda s, e: [*s, e], [], cluster=cluster)]
    assert logcheck.effects_once(once, topic, select, lambda e: e.key, cluster=cluster).passed
    twice = logcheck.effects_once(once * 2, topic, select, lambda e: e.key, cluster=cluster)
    assert not twice and "the log asks for" in twice.message

    path = tmp_path / "ledger.db"
    assert not logcheck.ledger(path, "sent", topic, select, cluster=cluster)
    ids = labkit.replay(topic, lambda s, e: [*s, e.id], [], cluster=cluster)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sent (event_id TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO sent VALUES (?)", [(i,) for i in ids[:-1]])
    short = logcheck.ledger(path, "sent", topic, select, cluster=cluster)
    assert not short and "lacks 1 of the 31" in short.message
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO sent VALUES (?)", (ids[-1],))
    assert logcheck.ledger(path, "sent", topic, select, cluster=cluster).passed


def test_log_start_and_at_log_start(cluster: labkit.Cluster, topic: str, group: str) -> None:
    cluster.fresh_topic(topic, partitions=2)
    produce_records(cluster, topic, [{"key": f"k{i}", "value": b"x", "partition": i % 2}
                                     for i in range(10)])
    for future in cluster.admin().delete_records([TopicPartition(topic, 0, 3)]).values():
        future.result(timeout=15)  # the log-start offset of partition 0 moves to 3
    assert logcheck.log_start(topic, {0: 3, 1: 0}, cluster=cluster).passed
    assert logcheck.records_read(topic, 7, cluster=cluster).passed      # 10 written, 3 deleted
    wrong_count = logcheck.records_read(topic, 10, cluster=cluster)
    assert not wrong_count and "you predicted 10; a reader gets 7 records" in wrong_count.message
    off = logcheck.log_start(topic, 0, cluster=cluster)
    assert not off and "partition 0: you predicted 0, the broker's log-start offset is 3" \
        in off.message
    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)],
                        asynchronous=False)
        wrong = logcheck.at_log_start(group, topic, cluster=cluster)
        assert not wrong and "partition 0: committed 0, log-start 3" in wrong.message
        consumer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        assert logcheck.at_log_start(group, topic, cluster=cluster).passed
    finally:
        consumer.close()


@pytest.mark.parametrize("keys", [[]])
def test_deleted_needs_keys(cluster: labkit.Cluster, keys: list[str]) -> None:
    from labkit.exceptions import UsageError

    with pytest.raises(UsageError, match="keys is empty"):
        logcheck.deleted("whatever", keys, cluster=cluster)
