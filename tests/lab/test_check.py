"""Exercise checks against the real lab cluster: each must pass on the right state and fail,
with a hint naming the difference, on a wrong one."""

from __future__ import annotations

import json
import time
import uuid

import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import labkit
from labkit import check
from labkit.exceptions import CheckFailed, LabkitError
from tests.conftest import produce_records


def test_check_result_shows_a_tick_or_the_hint() -> None:
    ok = check.CheckResult(True, "all good", "demo")
    bad = check.CheckResult(False, "key 'a': expected 1, topic has 2", "demo")
    assert repr(ok) == "✓ demo: all good" and bool(ok)
    assert repr(bad).startswith("✗ demo: key 'a'") and not bad
    assert "✓" in ok._repr_html_() and "Hint" in bad._repr_html_()
    assert "&#x27;a&#x27;" in bad._repr_html_()  # escaped
    assert ok.raise_if_failed() is ok
    with pytest.raises(CheckFailed, match="demo: key 'a': expected 1, topic has 2"):
        bad.raise_if_failed()


def test_compacted_latest_fails_until_compaction_then_passes(cluster: labkit.Cluster,
                                                             topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1, cleanup_policy="compact", segment_ms="60000",
                        min_cleanable_dirty_ratio="0.01", delete_retention_ms="600000")
    old = int(time.time() * 1000) - 600_000
    history = [("c-1", {"n": 1}), ("c-2", {"n": 1}), ("c-1", {"n": 2}), ("c-3", {"n": 1}),
               ("c-2", {"n": 5}), ("c-3", None)]  # c-3 ends deleted by a tombstone
    produce_records(cluster, topic, [{"key": k, "value": None if v is None else json.dumps(v),
                              "timestamp": old + i} for i, (k, v) in enumerate(history)])
    latest = {"c-1": {"n": 2}, "c-2": {"n": 5}}

    # everything sits in the active segment: never compacted, so keys repeat
    result = check.compacted_latest(topic, cluster=cluster)
    assert not result.passed
    assert "key 'c-1' appears 2 times (partition@offset 0@0, 0@2)" in result.message
    assert "active segment" in result.message
    # the latest values are right all the same
    assert check.compacted_latest(topic, latest, unique=False, cluster=cluster).passed
    assert check.compacted_latest(topic, {**latest, "c-3": None}, unique=False,
                                  cluster=cluster).passed
    wrong = check.compacted_latest(topic, {"c-1": {"n": 1}, "c-2": {"n": 5}, "c-9": "x"},
                                   unique=False, cluster=cluster)
    assert not wrong.passed
    assert "key 'c-1': expected latest value {'n': 1}, topic has '{\"n\": 2}'" in wrong.message
    assert "key 'c-9': expected latest value 'x', topic has no such key" in wrong.message
    deleted = check.compacted_latest(topic, {**latest, "c-3": {"n": 1}}, unique=False,
                                     cluster=cluster)
    assert "key 'c-3': expected latest value {'n': 1}, topic has it deleted" in deleted.message
    extra = check.compacted_latest(topic, {"c-1": {"n": 2}}, unique=False, cluster=cluster)
    assert "key 'c-2': not expected, topic has '{\"n\": 5}'" in extra.message

    # a record ten minutes newer rolls the segment; the cleaner then compacts the old one
    produce_records(cluster, topic, [{"key": "c-4", "value": json.dumps({"n": 1})}])
    cluster.wait_for("the cleaner to compact the rolled segment", lambda: check.compacted_latest(
        topic, cluster=cluster).passed, timeout=60, interval=1.0)
    done = check.compacted_latest(topic, {**latest, "c-4": {"n": 1}}, unique=True,
                                  cluster=cluster)
    assert done.passed, done.message
    assert done.message == f"topic {topic!r} holds the expected latest value for each of " \
                           "3 keys, each once"


def test_compacted_latest_bad_input_and_missing_topic(cluster: labkit.Cluster) -> None:
    with pytest.raises(LabkitError, match="nothing to check"):
        check.compacted_latest("t", unique=False, cluster=cluster)
    with pytest.raises(LabkitError, match="keys must be str or bytes"):
        check.compacted_latest("t", {17: "x"}, cluster=cluster)
    missing = check.compacted_latest(f"no-such-{uuid.uuid4().hex[:6]}", cluster=cluster)
    assert not missing.passed and "does not exist" in missing.message


def test_committed_compares_with_the_groups_offsets(cluster: labkit.Cluster, topic: str,
                                                   group: str) -> None:
    cluster.fresh_topic(topic, partitions=2)
    produce_records(cluster, topic,
                    [{"value": b"x", "partition": p} for p in (0, 1) for _ in range(4)])
    absent = check.committed(group, topic, 4, cluster=cluster)
    assert not absent.passed and f"group {group!r} does not exist" in absent.message

    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 4), TopicPartition(topic, 1, 1)],
                        asynchronous=False)
    finally:
        consumer.close()
    assert check.committed(group, topic, {0: 4, 1: 1}, cluster=cluster).passed
    assert check.committed(group, topic, {0: 4}, cluster=cluster).passed
    every = check.committed(group, topic, 4, cluster=cluster)
    assert not every.passed
    assert every.message == (f"1 of 2 partitions differ: partition 1: expected committed "
                             f"offset 4, group {group!r} committed 1 (high watermark 4)")
    beyond = check.committed(group, topic, {5: 1}, cluster=cluster)
    assert "only partitions [0, 1]" in beyond.message
    with pytest.raises(LabkitError, match="non-negative"):
        check.committed(group, topic, {0: -1}, cluster=cluster)


def test_state_equals_names_the_first_differences() -> None:
    live = {"c-1": {"orders": 2, "total": 30.5}, "c-2": {"orders": 1, "total": 12.0}}
    assert check.state_equals(dict(live), live).passed
    assert check.state_equals({"c-1": {"orders": 2, "total": 30.5 + 1e-12},
                               "c-2": {"orders": 1, "total": 12.0}}, live).passed
    wrong = check.state_equals({"c-1": {"orders": 3, "total": 30.5}, "c-3": {"orders": 1}},
                               live)
    assert not wrong.passed
    assert wrong.message.startswith("3 of 3 keys differ: ")
    assert "key 'c-2' only in live" in wrong.message
    assert "key 'c-3' only in replayed" in wrong.message
    assert "key 'c-1' 'orders': replayed 3, live 2" in wrong.message
    frame = pd.DataFrame(live).T
    assert check.state_equals(frame, live).passed
    changed = frame.copy()
    changed.loc["c-2", "total"] = 13.0
    assert "key 'c-2' 'total': replayed 13.0, live 12.0" in check.state_equals(
        changed, frame).message
    many = check.state_equals({f"k{i}": i for i in range(10)}, {f"k{i}": -i for i in range(10)})
    assert many.message.endswith("(and 6 more)")  # k0 agrees: 9 differ, 3 shown
    with pytest.raises(LabkitError, match="must be a dict"):
        check.state_equals([1, 2], {})


def test_topic_config_partition_count_and_messages(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3, cleanup_policy="compact", retention_ms="60000")
    assert check.topic_config(topic, cleanup_policy="compact", retention_ms=60000,
                              cluster=cluster).passed
    assert check.topic_config(topic, **{"cleanup.policy": ["compact"]}, cluster=cluster).passed
    wrong = check.topic_config(topic, cleanup_policy="delete", segment_ms=1000, cluster=cluster)
    assert not wrong.passed
    assert "cleanup.policy: expected 'delete', topic has 'compact' (set on the topic)" in (
        wrong.message)
    assert "segment.ms: expected '1000', topic has '604800000' (default)" in wrong.message
    with pytest.raises(LabkitError, match=r"did you mean cleanup\.policy"):
        check.topic_config(topic, cleanup_polcy="compact", cluster=cluster)

    assert check.partition_count(topic, 3, cluster=cluster).passed
    few = check.partition_count(topic, 6, cluster=cluster)
    assert few.message == f"topic {topic!r} has 3 partition(s), expected 6"

    assert check.messages_in_topic(topic, 0, cluster=cluster).passed
    produce_records(cluster, topic, [{"key": f"k{i}", "value": b"v", "partition": i % 3}
                             for i in range(7)])
    assert check.messages_in_topic(topic, 7, cluster=cluster).passed
    short = check.messages_in_topic(topic, 10, cluster=cluster)
    assert short.message == (f"topic {topic!r} holds 7 records, expected 10 "
                             "(per partition 0: 3, 1: 2, 2: 2)")
    missing = check.partition_count(f"no-such-{uuid.uuid4().hex[:6]}", 1, cluster=cluster)
    assert not missing.passed and "does not exist" in missing.message


def test_messages_in_topic_counts_records_not_offsets(cluster: labkit.Cluster,
                                                     topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    producer = Producer(cluster.config(transactional_id=f"tx-{topic}", acks="all"))
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"kept")
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, value=b"aborted")
    producer.abort_transaction(30)
    records = check.read_topic(topic, cluster=cluster)
    assert [r.value for r in records] == [b"kept"]
    assert check.messages_in_topic(topic, 1, cluster=cluster).passed  # 4 offsets, 1 record


def test_committed_records_counts_from_the_log_start(cluster: labkit.Cluster, topic: str,
                                                     group: str) -> None:
    cluster.fresh_topic(topic, partitions=2)
    produce_records(cluster, topic,
                    [{"value": b"x", "partition": p} for p in (0, 1) for _ in range(5)])
    nothing = check.committed_records(group, topic, 3, cluster=cluster)
    assert not nothing.passed and "has committed nothing" in nothing.message
    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False))
    try:  # 2 + 1 records handled: commits are the next offsets to read
        consumer.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 1)],
                        asynchronous=False)
    finally:
        consumer.close()
    assert check.committed_records(group, topic, 3, cluster=cluster).passed
    off = check.committed_records(group, topic, 5, cluster=cluster)
    assert not off.passed and "cover 3 records" in off.message and "0: 2, 1: 1" in off.message


def test_busy_group_wants_every_partition_owned_and_no_member_idle(
        cluster: labkit.Cluster, topic: str, group: str) -> None:
    import threading

    cluster.fresh_topic(topic, partitions=2)
    empty = check.busy_group(group, topic, cluster=cluster)
    assert not empty.passed and "has no members" in empty.message
    stops = [threading.Event() for _ in range(3)]

    def member(stop: threading.Event) -> None:
        c = Consumer(cluster.config(group_id=group, group_protocol="consumer"))
        try:
            c.subscribe([topic])
            while not stop.is_set():
                c.poll(0.1)
        finally:
            c.close()

    threads = [threading.Thread(target=member, args=(s,), daemon=True) for s in stops]
    for t in threads:
        t.start()
    try:
        cluster.wait_for("one idle member", lambda: "idle: " in check.busy_group(
            group, topic, cluster=cluster).message, timeout=30)
        stops[2].set()
        threads[2].join(15)
        cluster.wait_for("two busy members", lambda: check.busy_group(
            group, topic, cluster=cluster).passed, timeout=30)
    finally:
        for s in stops:
            s.set()
        for t in threads:
            t.join(15)
