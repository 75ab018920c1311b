"""The measured experiments: a reader far behind vs at the tail; a catch-up read."""

from __future__ import annotations

import itertools

import pytest

import labkit
from labkit.lab import experiments


def _records() -> object:
    return ((str(i % 100).encode(), b"x" * 1000) for i in itertools.count())


def test_backlog_vs_tail_measures_both_readers(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    labkit.produce_all(_records(), topic, limit=20_000, progress=False)
    with labkit.produce(_records(), topic, cluster=cluster) as fire:
        df = experiments.backlog_vs_tail(fire, topic, read_rate=2000, rounds=1, seconds=2.0)
    assert list(df["reader"]) == ["at the tail", "far behind", "far behind", "at the tail"]
    assert (df["produce_rate"] > 0).all() and (df["read_rate"] > 500).all()
    assert (df[df.reader == "far behind"]["behind"] >= 20_000).all()


def test_a_paced_reader_keeps_its_pace(cluster: labkit.Cluster, topic: str) -> None:
    # a full read-ahead queue must not put the next fetch off (librdkafka waits 1 s by
    # default): that starved the lesson 01 readers to 68-100 % of their pace, unevenly
    cluster.fresh_topic(topic, partitions=3)
    labkit.produce_all(_records(), topic, limit=80_000, progress=False)
    got = experiments._paced_read(cluster, cluster.name(topic), "earliest", 20_000, 3.0)
    assert got["rate"] >= 0.9 * 20_000, got


def test_catch_up_reads_everything_from_the_page_cache(cluster: labkit.Cluster,
                                                       topic: str) -> None:
    if cluster.backend != "local":
        pytest.skip("looks at the local nodes' processes")
    cluster.fresh_topic(topic, partitions=3)
    labkit.produce_all(_records(), topic, limit=20_000, progress=False)
    got = experiments.catch_up(topic, seconds=30)
    assert got["records"] == 20_000 and got["bytes"] == 20_000_000
    assert got["heap_before"] > 0 and got["disk_read"] < got["bytes"]
