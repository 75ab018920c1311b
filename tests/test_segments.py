"""Record batches and index files of a partition, as Kafka's kafka-dump-log lists them."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

import labkit
from labkit import segments


def _produce(cluster: labkit.Cluster, topic: str, n: int, **conf: object) -> None:
    p = Producer(cluster.config(acks="all", **conf))
    for i in range(n):
        p.produce(topic, key=b"k", value=b"v" * 500 + str(i).encode())
    assert p.flush(15) == 0


def test_batches_count_what_linger_and_compression_do(cluster: labkit.Cluster,
                                                      topic: str) -> None:
    if cluster.backend != "local":
        pytest.skip("needs the nodes' disks")
    cluster.fresh_topic(topic, partitions=1)
    _produce(cluster, topic, 200, linger_ms=0, batch_num_messages=1)
    one = segments.batches(topic, 0)
    assert len(one) == 200 and set(one["count"]) == {1} and set(one["compression"]) == {"none"}
    _produce(cluster, topic, 200, linger_ms=200, compression_type="zstd")
    both = segments.batches(topic, 0)
    big = both[both["base_offset"] >= 200]
    assert big["count"].sum() == 200 and len(big) < 20 and set(big["compression"]) == {"zstd"}
    assert big["size"].sum() < one["size"].sum() / 5      # compressed batches: far fewer bytes
    assert list(both["position"]) == sorted(both["position"])  # appended one after the other


def test_index_files_are_sparse(cluster: labkit.Cluster, topic: str) -> None:
    if cluster.backend != "local":
        pytest.skip("needs the nodes' disks")
    cluster.fresh_topic(topic, partitions=1, segment_bytes=str(1 << 20))
    _produce(cluster, topic, 8000, linger_ms=5)
    idx = segments.index_files(topic, 0)
    closed = idx[~idx["active"]]
    assert len(closed) >= 3
    for row in closed.itertuples():
        assert row.index_size == 8 * row.index_entries           # 8 bytes an entry
        assert row.timeindex_size == 12 * row.timeindex_entries  # 12 bytes an entry
        assert row.index_entries <= row.log_size // 4096 + 1     # one per 4 KB of log, at most
    assert idx["active"].iloc[-1] and idx["index_disk"].iloc[-1] < idx["index_size"].iloc[-1]
