"""Kafka's own tools through labkit: standard input reaches kafka-console-producer."""

from __future__ import annotations

import labkit


def test_console_producer_reads_its_records_from_input(cluster: labkit.Cluster,
                                                        topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    cluster.kafka("kafka-console-producer", "--topic", topic, "--property", "parse.key=true",
                  "--property", "key.separator=:", input="k1:one\nk2:two\n")
    df = labkit.read(topic, decode=False)
    assert list(zip(df["key"], df["value"], strict=True)) == [(b"k1", b"one"), (b"k2", b"two")]
