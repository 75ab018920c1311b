"""Inspectors against the real lab cluster: what they show must match what was produced."""

from __future__ import annotations

import re
import time
import uuid

import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import labkit
from labkit import inspect as ins
from labkit.exceptions import NotSupportedError
from tests.conftest import produce_records


def nones(column: pd.Series) -> list:
    """The column's values with missing ones (NaN in pandas' str dtype) as None."""
    return [None if pd.isna(v) else v for v in column]


def test_topics_and_partitions_match_what_was_produced(cluster: labkit.Cluster,
                                                       topic: str) -> None:
    # (delete_records below needs the delete policy)
    cluster.fresh_topic(topic, partitions=3, cleanup_policy="compact,delete",
                        retention_ms="123456")
    counts = {0: 2, 1: 3, 2: 5}
    produce_records(cluster, topic, [{"key": f"k{p}-{i}", "value": b"v", "partition": p}
                             for p, n in counts.items() for i in range(n)])
    # move partition 0's log-start offset: log_start must follow it
    def delete_first_record() -> bool:
        cluster.admin().list_topics(topic=topic, timeout=5)  # refresh the client's metadata
        fut = cluster.admin().delete_records([TopicPartition(topic, 0, 1)])
        next(iter(fut.values())).result(timeout=30)
        return True

    # the admin client may not know the new topic's leaders yet ("No leaders found"): retry
    cluster.wait_for("delete_records on partition 0", delete_first_record, timeout=60)

    parts = ins.partitions(topic, cluster=cluster)
    assert list(parts.columns) == ["partition", "leader", "replicas", "isr", "log_start",
                                   "high_watermark", "messages"]
    assert parts["partition"].tolist() == [0, 1, 2]
    assert parts["high_watermark"].tolist() == [counts[p] for p in range(3)]
    assert parts["log_start"].tolist() == [1, 0, 0]
    assert parts["messages"].tolist() == [counts[0] - 1, counts[1], counts[2]]
    for row in parts.itertuples():
        assert row.leader == cluster.leader(topic, row.partition)
        assert len(row.replicas) == min(3, len(cluster.nodes))
        assert set(row.isr) <= set(row.replicas)

    all_topics = ins.topics(cluster=cluster)
    assert list(all_topics.columns) == ["topic", "partitions", "replication_factor", "messages",
                                        "cleanup.policy", "retention.ms"]
    assert all_topics["topic"].tolist() == sorted(all_topics["topic"])
    row = all_topics.set_index("topic").loc[topic]
    assert row["partitions"] == 3
    assert row["replication_factor"] == min(3, len(cluster.nodes))
    assert row["messages"] == sum(counts.values()) - 1
    assert sorted(row["cleanup.policy"].split(",")) == ["compact", "delete"]
    assert row["retention.ms"] == 123456
    assert "__consumer_offsets" not in set(all_topics["topic"])
    assert "__consumer_offsets" in set(ins.topics(cluster=cluster, internal=True)["topic"])


def test_unknown_topic_and_partition_are_clear_errors(cluster: labkit.Cluster) -> None:
    with pytest.raises(ins.NotFoundError, match="does not exist"):
        ins.partitions(f"no-such-topic-{uuid.uuid4().hex[:6]}", cluster=cluster)
    with pytest.raises(ins.NotFoundError, match="does not exist"):
        ins.lag(f"no-such-group-{uuid.uuid4().hex[:6]}", cluster=cluster)


def test_groups_and_lag_equal_high_minus_committed(cluster: labkit.Cluster, topic: str,
                                                   group: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    counts = {0: 4, 1: 6, 2: 3}
    produce_records(cluster, topic, [{"value": b"x", "partition": p}
                             for p, n in counts.items() for _ in range(n)])
    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False,
                                       auto_offset_reset="earliest"))
    try:
        consumer.subscribe([topic])

        def assigned() -> bool:
            consumer.poll(0.2)
            return len(consumer.assignment()) == 3

        cluster.wait_for("the consumer to get all 3 partitions", assigned, timeout=60)
        done = {0: 1, 1: 5}  # partition 2: nothing committed
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in done.items()],
                        asynchronous=False)
        df = ins.groups(cluster=cluster, group=group)
        assert list(df.columns) == ["group", "topic", "partition", "committed",
                                    "high_watermark", "lag", "state", "members", "member"]
        assert df["partition"].tolist() == [0, 1, 2]
        assert set(df["group"]) == {group} and set(df["topic"]) == {topic}
        assert df["high_watermark"].tolist() == [counts[p] for p in range(3)]
        assert df["committed"].tolist()[:2] == [done[0], done[1]]
        assert pd.isna(df["committed"][2]) and pd.isna(df["lag"][2])
        assert df["lag"].tolist()[:2] == [counts[p] - done[p] for p in (0, 1)]
        assert set(df["state"]) == {"STABLE"} and set(df["members"]) == {1}
        assert df["member"].notna().all()

        lag = ins.lag(group, topic, cluster=cluster)
        assert list(lag.columns) == ["topic", "partition", "committed", "high_watermark", "lag"]
        assert lag["lag"].tolist()[:2] == [3, 1]
        assert group in set(ins.groups(cluster=cluster)["group"])
    finally:
        consumer.close()
    cluster.wait_for("the group to become empty", lambda: ins.groups(
        cluster=cluster, group=group)["state"].eq("EMPTY").all(), timeout=30)
    after = ins.groups(cluster=cluster, group=group)
    assert after["members"].eq(0).all() and after["member"].isna().all()
    assert after["partition"].tolist() == [0, 1]  # only committed partitions remain
    with pytest.raises(ins.NotFoundError, match=f"did you mean '{re.escape(group)}'"):
        ins.lag(group + "x", cluster=cluster)  # a typo: the error names the group meant


def test_nodes_agree_with_metadata_and_quorum_tool(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    df = ins.nodes(cluster=cluster)
    assert list(df.columns) == ["node", "host", "port", "pid", "alive", "ready",
                                "quorum_leader", "leaders"]
    assert df["node"].tolist() == sorted(n.id for n in cluster.nodes)
    known = {n.id: n for n in cluster.nodes}
    for row in df.itertuples():
        assert row.port == known[row.node].port and row.pid == known[row.node].pid
        assert row.alive == known[row.node].alive
    assert set(df[df["ready"]]["node"]) == cluster.broker_ids()

    def leaders_agree() -> bool:  # asked again if leadership moved between the two reads
        counts = ins.nodes(cluster=cluster).set_index("node")["leaders"]
        led = [cluster.leader(topic, p) for p in range(3)]
        return all(counts[node_id] >= led.count(node_id) for node_id in set(led))

    cluster.wait_for("inspect.nodes() to count the leaders the metadata names", leaders_agree,
                     timeout=30)
    # Kafka's own tool names the quorum leader: the quorum-state files must agree
    out = cluster.kafka("kafka-metadata-quorum", "describe", "--status").stdout
    leader_id = int(next(line.split(":")[1] for line in out.splitlines()
                         if line.startswith("LeaderId")))
    assert df[df["quorum_leader"]]["node"].tolist() == [leader_id]


def test_segments_and_dump_show_the_produced_records(cluster: labkit.Cluster,
                                                     topic: str) -> None:
    # a segment rolls when a record is segment.ms newer than the segment's first one:
    # three bursts ten minutes apart (by their CreateTime) make three segments
    cluster.fresh_topic(topic, partitions=1, segment_ms="60000")
    now = int(time.time() * 1000)
    starts = [now - 1_200_000, now - 600_000, now]
    bursts = [[{"key": f"k{b}-{i}".encode(), "value": f"v{b}-{i}".encode(),
                "timestamp": starts[b] + i} for i in range(5)] for b in range(3)]
    special = bursts[2]
    special[1]["headers"] = [("ce_type", b"pizza"), ("trace", b"1")]
    special[2]["key"] = b"a payload: b"  # the dump's own separator inside a key
    special[3]["value"] = b"line 1\nline 2"
    special[4]["value"] = None  # a tombstone
    for burst in bursts:
        produce_records(cluster, topic, burst)

    segs = ins.segments(topic, 0, cluster=cluster)
    assert list(segs.columns) == ["file", "base_offset", "last_offset", "records", "size",
                                  "first_timestamp", "max_timestamp", "active"]
    assert segs["base_offset"].tolist() == [0, 5, 10]
    assert segs["file"].tolist() == [f"{o:020d}.log" for o in (0, 5, 10)]
    assert segs["last_offset"].tolist() == [4, 9, 14]
    assert segs["records"].tolist() == [5, 5, 5]
    assert segs["active"].tolist() == [False, False, True]
    assert [t.value // 1_000_000 for t in segs["first_timestamp"]] == starts
    assert [t.value // 1_000_000 for t in segs["max_timestamp"]] == [s + 4 for s in starts]
    data = cluster.data_dir(cluster.leader(topic))
    assert data is not None and segs.attrs["directory"] == str(data / f"{topic}-0")

    for seg in segs.itertuples():
        dump = ins.dump_segment(topic, 0, segment=seg.base_offset, cluster=cluster)
        assert dump.attrs["truncated"] is False
        burst = bursts[seg.Index]
        assert dump["offset"].tolist() == list(range(seg.base_offset, seg.base_offset + 5))
        assert dump["key"].tolist() == [r["key"].decode() for r in burst]
        assert nones(dump["payload"]) == [r["value"].decode() if r["value"] else None
                                          for r in burst]
        assert [t.value // 1_000_000 for t in dump["timestamp"]] == [r["timestamp"]
                                                                     for r in burst]
        assert set(dump["timestamp_type"]) == {"CreateTime"}
        # the batches the tool lists fill the file exactly
        assert (dump["position"] + dump["batch_size"]).max() == seg.size
    last = ins.dump_segment(topic, 0, segment=segs["file"].iloc[-1], cluster=cluster)
    assert last["header_keys"].tolist()[1] == ["ce_type", "trace"]
    assert last["value_size"].tolist()[4] == -1
    assert last["key_size"].tolist()[2] == len(b"a payload: b")

    oldest = ins.dump_segment(topic, 0, cluster=cluster, limit=2)
    assert oldest["offset"].tolist() == [0, 1] and oldest.attrs["truncated"] is True
    cut = ins.dump_segment(topic, 0, cluster=cluster, max_bytes=int(segs["size"][0]) - 1)
    assert len(cut) < 5 and cut.attrs["truncated"] is True  # the tool skips a cut batch

    # a follower keeps the same segments once it has caught up
    follower = next(n for n in cluster.isr(topic, 0) if n != cluster.leader(topic, 0))
    cluster.wait_for("the follower's segments to match the leader's", lambda: ins.segments(
        topic, 0, cluster=cluster, node=follower)["last_offset"].tolist() == [4, 9, 14],
        timeout=30)
    follower_segs = ins.segments(topic, 0, cluster=cluster, node=follower)
    assert follower_segs["base_offset"].tolist() == [0, 5, 10]


def test_dump_shows_transaction_markers(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    producer = Producer(cluster.config(transactional_id=f"tx-{topic}", acks="all"))
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key=b"a", value=b"1")
    producer.produce(topic, key=b"b", value=b"2")
    producer.commit_transaction(30)
    dump = ins.dump_segment(topic, cluster=cluster)
    assert dump["offset"].tolist() == [0, 1, 2]
    assert dump["is_transactional"].all()
    assert dump["is_control"].tolist() == [False, False, True]
    assert dump["control"].tolist()[2] == "COMMIT"
    assert dump["key"].tolist()[:2] == ["a", "b"]
    assert ins.partitions(topic, cluster=cluster)["messages"].tolist() == [3]  # the marker counts


def test_segment_errors_are_one_line(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    with pytest.raises(ins.NotFoundError, match="has no partition 7"):
        ins.segments(topic, 7, cluster=cluster)
    with pytest.raises(ins.NotFoundError, match="not part of this cluster"):
        ins.segments(topic, 0, cluster=cluster, node=99)
    with pytest.raises(ins.NotFoundError, match="has no segment"):
        ins.dump_segment(topic, segment="nope.log", cluster=cluster)
    from labkit.cluster.external import ExternalCluster

    external = ExternalCluster(labkit.Settings.from_env(
        backend="external", bootstrap_servers=cluster.bootstrap_servers), security={})
    with pytest.raises(NotSupportedError, match="external backend"):
        ins.segments(topic, 0, cluster=external)
    # the external view of the same cluster still inspects through the admin API
    assert ins.partitions(topic, cluster=external)["partition"].tolist() == [0]
    assert ins.nodes(cluster=external)["quorum_leader"].isna().all()
