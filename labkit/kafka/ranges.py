"""The one bounded reader: every partition read from a first offset up to a stop offset
fixed when the read starts, then it stops. ``read``, ``replay``, the exercise checks and the
time-travel slider all read through it, so they can never disagree about what a topic holds.

Positions (``start``, ``stop``) are, for every partition or as a dict ``{partition:
position}``: an offset (int; ``stop`` is exclusive, like a slice), a timezone-aware datetime
(the first record at or after it), ``"earliest"`` (the log-start offset), ``"latest"`` or
``"end"`` (the high watermark when the read starts), or, for ``start`` with a ``group``,
``"committed"`` (the group's committed offset; the log start where it has none).

Rules, the same for every caller: ``"end"`` is the high watermark (what ``inspect`` and the
charts call it too); a range ends at its stop offset, or earlier where a ``read_committed``
consumer (librdkafka's default) cannot go on: before a transaction that is still open. A
transaction committed a moment ago may still be writing its markers; the reader gives that
``EOF_GRACE`` seconds before it calls the partition done. The whole read raises
:class:`~labkit.exceptions.ReadTimeoutError` after ``timeout`` seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from labkit.exceptions import (
    ClusterTimeoutError,
    CommitError,
    ReadTimeoutError,
    UnknownTopicError,
    UsageError,
)
from labkit.kafka import errors
from labkit.kafka.clients import QUIET, Connection
from labkit.kafka.names import qualify
from labkit.kafka.offsets import watermarks
from labkit.kafka.topics import partition_ids, pick_partitions
from labkit.validate import aware, choice, name
from labkit.waiting import Deadline

__all__ = ["POSITIONS", "BoundedReader", "Position", "Ranges"]

Named = Literal["earliest", "latest", "end", "committed"]
POSITIONS: tuple[Named, ...] = ("earliest", "latest", "end", "committed")
Position = int | datetime | Named
Ranges = dict[int, tuple[int, int]]
"""{partition: (first offset, stop offset)}; stop is exclusive."""

BATCH = 10_000
PREFETCH = 2  # partitions fetched ahead of the one being read
EOF_GRACE = 1.0
"""Seconds a read_committed reader waits at the end of what it may read, short of the stop
offset, for a transaction's markers to land, before it calls the partition done."""


class BoundedReader:
    """Reads offset ranges of one topic, partition after partition, each in offset order.
    ``close()`` (or ``with``) releases its consumers."""

    def __init__(self, conn: Connection, topic: str, *, group: str | None = None,
                 extra_config: dict[str, Any] | None = None, timeout: float = 60.0) -> None:
        from confluent_kafka import Consumer

        topic = qualify(conn, name("topic", topic))  # a class student's own
        if group is not None:
            group = qualify(conn, name("group", group))
        self.conn, self.topic, self.group, self.timeout = conn, topic, group, timeout
        self.deadline = Deadline(timeout)
        self.known = partition_ids(conn, topic)  # UnknownTopicError at once, before any consumer
        conf = {"group.id": group or f"labkit-read-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False, "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                # retention may move the log start meanwhile: then read from the new start
                "auto.offset.reset": "earliest",
                "max.partition.fetch.bytes": 8 << 20, "queued.min.messages": 1_000_000,
                # fetch again as soon as the read-ahead queue has room (librdkafka: 1 s later)
                "fetch.queue.backoff.ms": 10,
                **(extra_config or {})}
        self.conf = conn.config(**conf, **QUIET)
        self.consumer = Consumer(self.conf)

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.consumer.close()

    def partitions(self, wanted: int | list[int] | None = None) -> list[int]:
        """The partitions to read: all, or ``wanted`` after checking they exist."""
        return pick_partitions(self.topic, list(self.known), wanted)  # no second lookup

    def watermarks(self, parts: list[int]) -> dict[int, tuple[int, int]]:
        """(log start, high watermark) per partition (:func:`labkit.kafka.watermarks`)."""
        marks = watermarks(self.conn, [(self.topic, p) for p in parts],
                           timeout=self.deadline.clamp(10.0))
        out = {}
        for (_t, p), m in marks.items():
            if m.log_start is None or m.high_watermark is None:
                raise ClusterTimeoutError(f"partition {p} of {self.topic!r} has no leader right "
                                          "now; try again when every partition has one "
                                          "('labkit status' shows the nodes)")
            out[p] = (m.log_start, m.high_watermark)
        return out

    def ranges(self, parts: list[int], start: Any = "earliest", stop: Any = "end") -> Ranges:
        """{partition: (first offset, stop offset)} of ``parts`` between two positions."""
        if isinstance(start, dict):
            unknown = [p for p in start if p not in parts]
            if unknown:
                raise UnknownTopicError(f"topic {self.topic!r} has no partition {unknown[0]} "
                                        f"(start); its partitions are {parts}")
            parts = [p for p in parts if p in start]
        marks = self.watermarks(parts)
        firsts = self._resolve("start", start, marks)
        stops = self._resolve("stop", stop, marks)
        return {p: (firsts[p], max(firsts[p], stops[p])) for p in parts}

    def _per_partition(self, what: str, spec: Any, parts: Any) -> dict[int, Any]:
        per = {p: (spec.get(p, "end" if what == "stop" else "earliest")
                   if isinstance(spec, dict) else spec) for p in parts}
        for v in per.values():
            if isinstance(v, datetime):
                aware(what, v)
            elif isinstance(v, bool) or not isinstance(v, int | str):
                raise UsageError(f"{what}={v!r} is not valid; use an offset (int >= 0), a "
                                 f"datetime or one of {', '.join(map(repr, POSITIONS))}")
            elif isinstance(v, int) and v < 0:
                raise UsageError(f"{what}={v} is not valid; offsets are >= 0")
            elif isinstance(v, str):
                choice(what, v, POSITIONS)
                if v == "committed" and (what != "start" or self.group is None):
                    raise UsageError(f"{what}='committed' needs start= and group=; pass "
                                     "group='my-group'")
        return per

    def _resolve(self, what: str, spec: Any, marks: dict[int, tuple[int, int]]) -> dict[int, int]:
        from confluent_kafka import TopicPartition

        per = self._per_partition(what, spec, marks)
        times = {p: v for p, v in per.items() if isinstance(v, datetime)}
        found = {tp.partition: tp.offset for tp in self.consumer.offsets_for_times(
            [TopicPartition(self.topic, p, int(t.timestamp() * 1000)) for p, t in times.items()],
            timeout=self.deadline.clamp(10.0))} if times else {}
        done: dict[int, int] = {}
        if any(v == "committed" for v in per.values()):
            done = {tp.partition: tp.offset for tp in self.consumer.committed(
                [TopicPartition(self.topic, p) for p in marks],
                timeout=self.deadline.clamp(10.0))}
        out = {}
        for p, v in per.items():
            low, high = marks[p]
            if isinstance(v, datetime):
                offset = found[p] if found[p] >= 0 else high
            elif isinstance(v, int):
                offset = v
            elif v == "earliest":
                offset = low
            elif v in ("latest", "end"):
                offset = high
            else:  # committed
                offset = done[p] if done[p] >= 0 else low
            out[p] = max(low, min(offset, high))
        return out

    def batches(self, ranges: Ranges) -> Iterator[list[Any]]:
        """Lists of messages in [first, stop) of each partition, partition after partition.
        The next partitions are fetched meanwhile, each by a consumer of its own."""
        from confluent_kafka import Consumer, TopicPartition

        todo = [(p, first, stop) for p, (first, stop) in ranges.items() if first < stop]
        ahead: dict[int, Any] = {}
        try:
            for i, (p, first, stop) in enumerate(todo):
                for q, q_first, _ in todo[i:i + 1 + PREFETCH]:
                    if q not in ahead:
                        ahead[q] = Consumer(self.conf)
                        ahead[q].assign([TopicPartition(self.topic, q, q_first)])
                consumer = ahead.pop(p)
                try:
                    yield from self._partition(consumer, p, first, stop)
                finally:
                    consumer.close()
        finally:
            for consumer in ahead.values():
                consumer.close()

    def records(self, ranges: Ranges) -> Iterator[Any]:
        """The messages of :meth:`batches`, one by one."""
        for batch in self.batches(ranges):
            yield from batch

    def _partition(self, consumer: Any, p: int, first: int, stop: int) -> Iterator[list[Any]]:
        from confluent_kafka import KafkaError, TopicPartition

        topic, nxt = self.topic, first
        at_end: Deadline | None = None  # set at the end of what the consumer may read
        while nxt < stop:  # not poll_until: it yields what it reads while it waits
            if self.deadline.passed:
                raise ReadTimeoutError(
                    f"reading {topic!r} partition {p} reached offset {nxt} of {stop} within "
                    f"{self.timeout:g} s; is the cluster up ('labkit status')? pass a larger "
                    "timeout=")
            msgs = consumer.consume(min(BATCH, stop - nxt), 0.2 if at_end else 0.5)
            if not msgs:
                if consumer.position([TopicPartition(topic, p)])[0].offset >= stop:
                    return
                if at_end is not None and at_end.passed:
                    return  # before a transaction that is still open
                continue
            last = msgs[-1]
            if last.error() is None and last.offset() < stop - 1:
                nxt, at_end = last.offset() + 1, None
                yield msgs
                continue
            keep = []
            for m in msgs:  # the tail: an end-of-partition event or offsets past stop
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if consumer.position([TopicPartition(topic, p)])[0].offset >= stop:
                            nxt = stop  # e.g. the last offsets were compacted away
                        else:
                            at_end = Deadline(EOF_GRACE)  # markers may still be landing
                        continue
                    raise errors.to_labkit(err, f"read {topic!r} partition {p}")
                if m.offset() >= stop:
                    nxt = stop
                    break
                keep.append(m)
                nxt, at_end = m.offset() + 1, None
            if keep:
                yield keep

    def commit(self, ranges: Ranges) -> None:
        """Commit, as the reader's group, the stop offset of each range."""
        from confluent_kafka import KafkaException, TopicPartition

        offsets = [TopicPartition(self.topic, p, stop) for p, (_, stop) in ranges.items()]
        if not offsets:
            return
        try:
            done = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise CommitError(f"could not commit offsets for group {self.group!r} "
                              f"({errors.describe(exc)}); if the group has running consumers, "
                              "stop them or read as another group",
                              code=errors.code(exc)) from None
        bad = [tp for tp in done or [] if tp.error is not None]
        if bad:
            raise CommitError(f"could not commit {self.topic!r} partition {bad[0].partition} "
                              f"for group {self.group!r}: {errors.describe(bad[0].error)}",
                              code=errors.code(bad[0].error))
