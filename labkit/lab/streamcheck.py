"""Exercise checks for stream processing (lesson 08), in the manner of :mod:`labkit.lab.check`.

:func:`windowed_counts`: a topic of window results holds exactly the counts its source topic
implies, for a given window size and grace period (event time: the records' timestamps;
stream time per partition, as Kafka Streams keeps it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.kafka.ranges import BoundedReader
from labkit.lab.check import CheckResult, _check, _missing, _parts, _summary, read_topic
from labkit.validate import positive

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["expected_window_counts", "windowed_counts"]


def expected_window_counts(records: Iterable[tuple[int, str, int]], window_ms: int,
                           grace_ms: int) -> tuple[dict[tuple[str, int], int], int]:
    """((key, window start) -> count, records dropped) for ``records`` given as (partition,
    key, timestamp in ms) in offset order: a record is dropped once its partition's stream
    time (the largest timestamp seen so far) has reached its window's end plus the grace."""
    counts: dict[tuple[str, int], int] = {}
    stream_time: dict[int, int] = {}
    dropped = 0
    for partition, key, ts in records:
        stream_time[partition] = max(stream_time.get(partition, ts), ts)
        start = ts - ts % window_ms
        if stream_time[partition] >= start + window_ms + grace_ms:
            dropped += 1
        else:
            counts[key, start] = counts.get((key, start), 0) + 1
    return counts, dropped


def _latest_counts(output: str, c: Cluster) -> tuple[dict[tuple[str, int], int], list[str]]:
    latest: dict[tuple[str, int], int] = {}
    bad: list[str] = []
    for r in read_topic(output, cluster=c):
        try:
            value: Any = json.loads(r.value or b"")
            latest[str(value["key"]), int(value["window_start"])] = int(value["count"])
        except (ValueError, KeyError, TypeError):
            bad.append(f"{r.partition}@{r.offset}")
    return latest, bad


@_check
def windowed_counts(output: str, source: str, *, window: float, grace: float,
                    cluster: Cluster | None = None) -> CheckResult:
    """``output`` (records with a JSON value ``{"key", "window_start", "count", ...}``, the
    latest one per window counting) holds the count of every key of ``source`` in tumbling
    windows of ``window`` seconds with ``grace`` seconds of grace, and nothing else."""
    name = "windowed_counts"
    window_ms = round(positive("window", window) * 1000)
    grace_ms = round((positive("grace", grace) if grace else 0) * 1000)
    c = resolve(cluster)
    for topic in (source, output):
        if _parts(c, topic) is None:
            return _missing(topic, name)
    want, dropped = expected_window_counts(_timestamped(source, c), window_ms, grace_ms)
    have, bad = _latest_counts(output, c)
    diffs = [f"{len(bad)} record(s) are not window results (JSON with key, window_start, "
             f"count), e.g. at {bad[0]}"] if bad else []
    diffs += [f"{k}@{s}: expected {n}, topic has {have.get((k, s), 'nothing')}"
              for (k, s), n in sorted(want.items()) if have.get((k, s)) != n]
    diffs += [f"{k}@{s}: not expected, topic has {n}" for (k, s), n in sorted(have.items())
              if (k, s) not in want]
    if diffs:
        return CheckResult(False, _summary(diffs, len(want.keys() | have.keys()), "windows")
                           + f" (window {window:g} s, grace {grace:g} s: {dropped} record(s) "
                           "of the source come too late)", name)
    return CheckResult(True, f"{output!r} holds the counts of all {len(want)} windows "
                       f"({dropped} late record(s) dropped, as a {grace:g} s grace implies)", name)


def _timestamped(topic: str, c: Cluster) -> list[tuple[int, str, int]]:
    """(partition, key, timestamp in ms) of every record of ``topic``, in offset order."""
    with BoundedReader(c, topic) as reader:
        return [(m.partition(), (m.key() or b"").decode(errors="replace"), m.timestamp()[1])
                for m in reader.records(reader.ranges(reader.partitions()))]
