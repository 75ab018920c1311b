"""Measured experiments a lesson runs on the real cluster, built so that they *can* fail.

``backlog_vs_tail``: does a consumer far behind slow the broker down? An unthrottled
producer (the lesson's own :func:`labkit.produce` handle) runs throughout; side by side, in
alternating windows, a reader at the tail and a reader at offset 0 (far behind) read at the
same paced rate; each window measures the producer's acknowledged records per second. Both
readers do the same work, so the only difference is *where* in the log they read.

``catch_up``: a reader far behind reads the whole log at full speed, while the partition
leaders' Java heap and disk reads are measured before and after: Kafka hands the log's bytes
from the page cache to the socket (``sendfile``) without copying them through its heap.

These are background load and measurement, not client code a student must write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from labkit.cluster import resolve
from labkit.cluster.processes import heap, io_counters
from labkit.kafka.offsets import watermarks
from labkit.kafka.topics import describe, partition_ids
from labkit.moments import announce
from labkit.validate import positive

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["backlog_vs_tail", "catch_up"]


def _consumer(c: Cluster, topic: str, start: str, *, paced: bool) -> Any:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    conf = {"group.id": "labkit.experiments", "enable.auto.commit": False,
            "enable.partition.eof": False}
    if paced:  # fetch about what is read: the client's read-ahead (64 MB by default) would
        # pull far more from a reader far behind than from one at the tail, whose fetches
        # can only return what was just written -- the two readers would not do the same work
        conf["queued.max.messages.kbytes"] = 4096
        # ...and fetch again as soon as the queue has room: by default librdkafka puts off
        # the next fetch by 1 s once the queue is full, and a paced reader fills it by design
        # (measured: 9.3-18.7k of 20k records/s reached; 20k with this)
        conf["fetch.queue.backoff.ms"] = 10
    consumer = Consumer(c.config(conf))
    where = OFFSET_BEGINNING if start == "earliest" else OFFSET_END
    consumer.assign([TopicPartition(topic, p, where) for p in partition_ids(c, topic)])
    return consumer


def _paced_read(c: Cluster, topic: str, start: str, rate: float | None, seconds: float,
                until: int | None = None) -> dict[str, float]:
    """Read from ``start`` ('earliest' or 'end') at most ``rate`` records/s (None: as fast
    as possible) for ``seconds``, or until ``until`` records were read; records, bytes and
    the rate reached."""
    consumer = _consumer(c, topic, start, paced=rate is not None)
    records = nbytes = 0
    first: float | None = None  # the rate counts from the first record (not the set-up)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and (until is None or records < until):
            want = 5000 if rate is None else max(1, min(5000, int(rate * 0.05)))
            for msg in consumer.consume(want, 0.2):
                if msg.error() is None:
                    first = time.monotonic() if first is None else first
                    records += 1
                    nbytes += len(msg.value() or b"")
            if rate is not None and first is not None:  # pacing (not a readiness wait)
                ahead = first + records / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(min(ahead, max(0.0, deadline - time.monotonic())))
        elapsed = time.monotonic() - first if first is not None else 0.0
    finally:
        consumer.close()
    return {"records": records, "bytes": nbytes, "seconds": elapsed,
            "rate": records / elapsed if elapsed > 0 else 0.0}


def _behind(c: Cluster, topic: str) -> int:
    marks = watermarks(c, [(topic, p) for p in partition_ids(c, topic)])
    return sum(m.high_watermark - m.log_start for m in marks.values()
               if m.log_start is not None and m.high_watermark is not None)


def backlog_vs_tail(producer: Any, topic: str, *, read_rate: float = 20_000,
                    rounds: int = 3, seconds: float = 2.0,
                    cluster: Cluster | None = None) -> pd.DataFrame:
    """While ``producer`` (a running :func:`labkit.produce` handle, unthrottled) appends to
    ``topic``, run ``rounds`` pairs of windows of ``seconds``: a reader that starts at the
    end of the log, then one that starts at offset 0, both paced at ``read_rate``
    records/s. One row per window: ``round, reader`` (``"at the tail"``/``"far behind"``),
    ``produce_rate`` (acknowledged records/s in that window), ``read_rate`` (reached),
    ``behind`` (records between the reader's start and the end of the log). Each window is
    announced, so a running live chart marks it."""
    positive("read_rate", read_rate)
    positive("rounds", rounds, whole=True)
    positive("seconds", seconds)
    c = resolve(cluster)
    topic = c.name(topic)  # a class student's own
    rows = []
    tail, far = ("at the tail", "end"), ("far behind", "earliest")
    for r in range(1, rounds + 1):  # tail, far, far, tail: a drift in the rate cancels out
        for reader, start in (tail, far, far, tail):
            if not producer.running:
                raise RuntimeError("the producer stopped during the experiment: "
                                   f"{producer.errors[:1] or 'it was stopped'}")
            behind = 0 if start == "end" else _behind(c, topic)
            announce(f"reader {reader}")
            acked, t0 = producer.acked, time.monotonic()
            got = _paced_read(c, topic, start, read_rate, seconds)
            rows.append({"round": r, "reader": reader,
                         "produce_rate": (producer.acked - acked) / (time.monotonic() - t0),
                         "read_rate": got["rate"], "behind": behind})
    return pd.DataFrame(rows, columns=["round", "reader", "produce_rate", "read_rate",
                                       "behind"])


def _leaders(c: Cluster, topic: str) -> list[int]:
    return sorted({int(p.leader) for p in describe(c, topic).partitions.values()})


def catch_up(topic: str, *, seconds: float = 10.0,
             cluster: Cluster | None = None) -> dict[str, Any]:
    """Read ``topic`` from offset 0 to the end it has now, as fast as one consumer can, for at
    most ``seconds``
    (local backend: it looks at the leaders' processes). Returns ``records, bytes, seconds,
    rate`` (records/s) and, summed over the partition leaders, ``heap_before`` and
    ``heap_after`` (committed Java heap, bytes) and ``disk_read`` (bytes the leaders' disks
    really delivered meanwhile, from ``/proc/PID/io``; page-cache hits count nothing)."""
    positive("seconds", seconds)
    c = resolve(cluster)
    topic = c.name(topic)  # a class student's own
    leaders = _leaders(c, topic)
    heap_before = sum(heap(c, n)["committed"] for n in leaders)
    io_before = sum(io_counters(c, n)["read_bytes"] for n in leaders)
    got = _paced_read(c, topic, "earliest", None, seconds, until=_behind(c, topic))
    io_after = sum(io_counters(c, n)["read_bytes"] for n in leaders)
    heap_after = sum(heap(c, n)["committed"] for n in leaders)
    return {**got, "leaders": leaders, "heap_before": heap_before, "heap_after": heap_after,
            "disk_read": io_after - io_before}
