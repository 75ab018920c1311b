"""Offsets of a partition, in Kafka's own words.

* **log-start offset** (``earliest``): the first offset still in the log; retention and
  ``delete_records`` move it up.
* **high watermark** (``latest``): the offset after the last record copied to every in-sync
  replica; consumers read up to it, and it is what ``ListOffsets`` with ``latest`` answers
  (for ``read_committed`` readers, the last stable offset: before any open transaction).
* **log-end offset**: the offset after the last record in the *leader's* log; it can be
  ahead of the high watermark while followers catch up. No client API returns it, so labkit
  never calls the high watermark "log end".

Every function answers with ``None`` for a partition that did not answer (no leader right
now), never with a made-up number.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, NamedTuple

from labkit.exceptions import ClusterTimeoutError
from labkit.kafka.clients import TIMEOUT, Connection
from labkit.kafka.names import qualify
from labkit.kafka.topics import partition_ids
from labkit.validate import aware, choice
from labkit.waiting import poll_until

__all__ = ["Spec", "Watermarks", "offsets", "offsets_for_time", "watermarks"]

Spec = Literal["earliest", "latest"]
SPECS: tuple[Spec, ...] = ("earliest", "latest")


class Watermarks(NamedTuple):
    """A partition's log-start offset and high watermark (None: it did not answer)."""

    log_start: int | None
    high_watermark: int | None

    @property
    def records(self) -> int | None:
        """The offset span (on compacted or transactional topics it counts removed records
        and transaction markers too)."""
        if self.log_start is None or self.high_watermark is None:
            return None
        return self.high_watermark - self.log_start


TP = tuple[str, int]


def watermarks(conn: Connection, tps: Iterable[TP], *, settle: float = 3.0,
               timeout: float = TIMEOUT) -> dict[TP, Watermarks]:
    """Log-start offset and high watermark of each (topic, partition), in two requests.
    Partitions that do not answer are asked again for up to ``settle`` seconds (0: once),
    then given as None."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    wanted = list(dict.fromkeys(tps))
    got: dict[tuple[TP, Spec], int] = {}
    todo: list[tuple[TP, Spec]] = [(tp, side) for tp in wanted for side in SPECS]

    def asked() -> bool:  # one round for what has not answered yet
        for side in SPECS:
            spec = OffsetSpec.earliest() if side == "earliest" else OffsetSpec.latest()
            req = {TopicPartition(t, p): spec for (t, p), s in todo if s == side}
            if not req:
                continue
            futures = conn.admin().list_offsets(req, request_timeout=timeout)
            for tp, fut in futures.items():  # failing: a new topic unknown yet, or no leader
                with contextlib.suppress(Exception):
                    got[((tp.topic, tp.partition), side)] = int(fut.result(timeout).offset)
        todo[:] = [key for key in todo if key not in got]
        return not todo

    with contextlib.suppress(ClusterTimeoutError):  # what never answered is None
        poll_until("every partition's offsets", asked, timeout=settle, retry_on=())
    return {tp: Watermarks(got.get((tp, "earliest")), got.get((tp, "latest"))) for tp in wanted}


def offsets(conn: Connection, topic: str, spec: Spec = "latest", *,
            settle: float = 0.0) -> dict[int, int | None]:
    """The ``latest`` (high watermark) or ``earliest`` (log-start) offset of every partition
    of ``topic``; None for a partition that did not answer (e.g. its leader is down). A
    wrong ``spec`` is a UsageError listing the allowed values."""
    spec, topic = choice("spec", spec, SPECS), qualify(conn, topic)
    marks = watermarks(conn, [(topic, p) for p in partition_ids(conn, topic)], settle=settle)
    return {p: (m.high_watermark if spec == "latest" else m.log_start)
            for (_t, p), m in marks.items()}


def offsets_for_time(conn: Connection, topic: str, when: datetime,
                     partitions: Iterable[int] | None = None, *,
                     timeout: float = TIMEOUT) -> dict[int, int]:
    """Per partition, the first offset whose record is stamped at or after ``when`` (a
    timezone-aware datetime); the high watermark where no record is that new."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    aware("when", when)
    topic = qualify(conn, topic)
    parts = partition_ids(conn, topic, None if partitions is None else list(partitions))
    ms = int(when.timestamp() * 1000)
    req = {TopicPartition(topic, p): OffsetSpec.for_timestamp(ms) for p in parts}
    found = {tp.partition: int(f.result(timeout).offset)
             for tp, f in conn.admin().list_offsets(req, request_timeout=timeout).items()}
    missing = [p for p, o in found.items() if o < 0]
    if missing:
        ends = watermarks(conn, [(topic, p) for p in missing], settle=1.0)
        for p in missing:
            found[p] = ends[(topic, p)].high_watermark or 0
    return dict(sorted(found.items()))
