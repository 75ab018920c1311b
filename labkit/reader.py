"""Reading a topic back: into a DataFrame (:func:`read`) or folded into state (:func:`replay`).

Both are bounded: they ``assign`` explicit offsets, stop at stop offsets fixed when called
(``"end"`` = the high watermark then), and raise :class:`ReadTimeoutError` after ``timeout``.
Partitions are read one after the other, each in offset order, so rows (and folds) come
ordered by partition, then offset; the order per key, which is what matters, is the log's.

Positions (``start``, ``stop``, ``until``) are, for every partition or as a dict
``{partition: position}``: an offset (int; ``stop`` is exclusive, like a slice), a
timezone-aware datetime (the first record at or after it, via ``offsets_for_times``),
``"earliest"``, ``"latest"``/``"end"`` (the log end when called), or, for ``start`` with a
``group``, ``"committed"`` (the group's committed offset; earliest where it has none).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from labkit.batchcodec import decode_columns, decode_messages
from labkit.cluster import resolve
from labkit.codec import decode_fast
from labkit.deadletter import DeadLetters, ErrorMode, bad_record, dead_letters
from labkit.exceptions import (
    CommitError,
    DecodeError,
    ReadTimeoutError,
    UnknownTopicError,
    UsageError,
)
from labkit.kafka.ranges import BoundedReader
from labkit.kafka.ranges import Named as _Named

if TYPE_CHECKING:
    import pandas as pd

    from labkit.cluster import Cluster
    from labkit.codec import DecodedEvent

S = TypeVar("S")
Position = int | datetime | _Named
RESERVED = ("key", "tombstone", "type", "time", "partition", "offset", "timestamp", "headers")


def _bar(total: int, topic: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=" records", desc=topic, mininterval=0.5)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while millions of short-lived dicts are made (it would rescan them all)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read(
    topic: str,
    *,
    group: str | None = None,
    start: Position | dict[int, Position] = "earliest",
    stop: Position | dict[int, Position] = "end",
    partitions: int | list[int] | None = None,
    decode: bool = True,
    errors: ErrorMode = "raise",
    dead_letter_topic: str | None = None,
    validate: bool = False,
    cluster: Cluster | None = None,
    extra_config: dict[str, Any] | None = None,
    progress: bool = False,
    timeout: float = 60.0,
) -> pd.DataFrame:
    """Read ``topic`` from ``start`` up to ``stop`` (exclusive) into a DataFrame.

    Columns: ``key``, one per top-level data field (nested values stay objects),
    ``tombstone`` (True for a record with a null value: its data fields are empty), ``type``,
    ``time`` (event time, ``ce_time``), ``partition``, ``offset``, ``timestamp`` (Kafka's,
    UTC) and ``headers`` (a dict: name -> bytes); with ``decode=False``: ``key``, ``value``
    (bytes), ``partition``, ``offset``, ``timestamp``, ``headers`` (the list of (name, bytes)
    pairs exactly as Kafka gives them, repeated names included).

    A record that does not decode raises DecodeError (``errors="raise"``), or with
    ``errors="skip_to_dead_letter"`` goes to ``dead_letter_topic`` (``<topic>.dlq``): the
    DataFrame leaves it out and ``df.attrs["dead_letters"]`` counts them. ``validate=True``
    also checks each record's data against its model (slower).

    ``group``: commit, as that group, the stop offsets once everything was read (the group
    must have no running members); without it nothing is committed. ``start="committed"``
    continues where the group left off.
    """
    cluster = resolve(cluster)
    dead = dead_letters(cluster, topic, errors, dead_letter_topic)  # checks errors=, sends nothing
    reader = BoundedReader(cluster, topic, group=group, extra_config=extra_config,
                           timeout=timeout)
    try:
        ranges = reader.ranges(reader.partitions(partitions), start, stop)
        bar = _bar(sum(b - a for a, b in ranges.values()), topic) if progress else None
        rows = _Rows(decode, validate)
        with _gc_paused():
            try:
                for batch in reader.batches(ranges):
                    rows.add(batch, topic, dead)
                    if bar is not None:
                        bar.update(len(batch))
            finally:
                if bar is not None:
                    bar.close()
            df = rows.frame()
        if group is not None:
            reader.commit(ranges)
    finally:
        reader.close()
        if dead is not None:
            dead.close()  # even on failure: what was dead-lettered so far is delivered
    df.attrs["topic"] = topic
    df.attrs["dead_letters"] = dead.count if dead is not None else 0
    if dead is not None:
        df.attrs["dead_letter_topic"] = dead.topic
    return df


_DTYPES: dict[str, Literal["Int64", "float64", "boolean"]] = {
    "integer": "Int64", "floating": "float64", "mixed-integer-float": "float64",
    "boolean": "boolean"}


def _data_columns(values: list[dict[str, Any]]) -> dict[str, Any]:
    """One column per top-level field; whole numbers become Int64 (missing = <NA>)."""
    import pandas as pd

    data = pd.DataFrame(values, dtype=object)
    out = {}
    for name in data.columns:
        dtype = _DTYPES.get(pd.api.types.infer_dtype(data[name], skipna=True))
        out[name] = data[name] if dtype is None else data[name].astype(dtype)
    return out


def _texts(raw: list[bytes | None]) -> list[str | None]:
    """Each value decoded as UTF-8 (bad bytes replaced), None kept; one decode for the whole
    column when no value is None or holds a NUL (a decoder resynchronises at an ASCII byte,
    so joined, each value decodes as on its own)."""
    if None not in raw:
        texts: list[str | None] = b"\0".join(raw).decode(  # type: ignore[arg-type]
            "utf-8", "replace").split("\0")  # type: ignore[assignment]
        if len(texts) == len(raw):
            return texts
    return [None if b is None else b.decode("utf-8", "replace") for b in raw]


class _Rows:
    """Columns collected batch by batch, turned into one DataFrame at the end."""

    def __init__(self, decode: bool, validate: bool) -> None:
        self.decode, self.validate = decode, validate
        self.cols: dict[str, list[Any]] = {
            n: [] for n in ("key", "value", "type", "time", "partition", "offset",
                            "timestamp", "headers")}

    def _decoded(self, batch: list[Any], heads: list[Any], topic: str, dead: DeadLetters | None
                 ) -> tuple[list[Any], list[Any], list[Any]]:
        """Record by record: (the good messages, their DecodedEvents, their headers)."""
        if not self.validate:
            try:  # a whole batch without a bad record
                return batch, [decode_fast(m.value(), h, m.key())
                               for m, h in zip(batch, heads, strict=True)], heads
            except DecodeError:
                pass
        good, events, kept = [], [], []
        for m, h in zip(batch, heads, strict=True):
            try:
                ev = decode_fast(m.value(), h, m.key())
                if self.validate and not ev.tombstone:  # a deletion has no data to check
                    ev.model()
            except DecodeError as exc:
                bad_record(m, exc, topic, dead)
                continue
            good.append(m)
            events.append(ev)
            kept.append(h)
        return good, events, kept

    def add(self, batch: list[Any], topic: str, dead: DeadLetters | None) -> None:
        c = self.cols
        if self.decode:
            heads = [m.headers() for m in batch]  # converted from C at the first call: once
            # the hot path: columns straight from the batch, no DecodedEvent per record
            cols = None if self.validate else decode_columns([m.value() for m in batch], heads)
            if cols is None:
                batch, events, heads = self._decoded(batch, heads, topic, dead)
                # atomic values: the GC skips them; a bare tombstone may have no headers (None)
                cols = ([dict(h or ()) for h in heads], [ev.type for ev in events],
                        [ev.data for ev in events])
            maps, types, data = cols
            c["value"] += data
            c["type"] += types
            c["time"] += [h.get("ce_time") for h in maps]
            c["headers"] += maps
        else:
            if any(m.error() is not None for m in batch):  # consumer events, not records
                for m in batch:  # end of partition: skipped; any other error: raised
                    if m.error() is not None:
                        bad_record(m, DecodeError(""), topic, dead)
                batch = [m for m in batch if m.error() is None]
            c["value"] += [m.value() for m in batch]
            c["headers"] += [m.headers() for m in batch]
        c["key"] += [m.key() for m in batch]
        c["partition"] += [m.partition() for m in batch]
        c["offset"] += [m.offset() for m in batch]
        c["timestamp"] += [m.timestamp() for m in batch]

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        c = self.cols
        stamps = [ms if kind else None for kind, ms in c["timestamp"]]
        meta = {"partition": pd.array(c["partition"], dtype="int32"),
                "offset": pd.array(c["offset"], dtype="int64"),
                "timestamp": pd.to_datetime(pd.Series(stamps, dtype="float64"), unit="ms",
                                            utc=True),
                "headers": c["headers"]}
        if not self.decode:
            return pd.DataFrame({"key": c["key"], "value": c["value"], **meta})
        keys = _texts(c["key"])
        values = c["value"]
        tombstones = [v is None for v in values] if None in values else [False] * len(values)
        if True in tombstones:  # a null value (a deletion) has no fields: all missing
            values = [{} if v is None else v for v in values]
        fields = {(f"data.{n}" if n in RESERVED else n): col
                  for n, col in _data_columns(values).items()}
        time_col = pd.to_datetime(pd.Series(_texts(c["time"]), dtype="object"), utc=True,
                                  format="ISO8601", errors="coerce")
        return pd.DataFrame({"key": keys, **fields,
                             "tombstone": pd.array(tombstones, dtype="bool"),
                             "type": c["type"], "time": time_col, **meta})


def replay(
    topic: str,
    fold: Callable[[S, DecodedEvent], S],
    initial: S,
    *,
    until: Position | dict[int, Position] | None = None,
    cluster: Cluster | None = None,
    on_state: Callable[[S, DecodedEvent], None] | None = None,
    errors: ErrorMode = "raise",
    dead_letter_topic: str | None = None,
    extra_config: dict[str, Any] | None = None,
    timeout: float = 300.0,
) -> S:
    """Rebuild state: ``state = fold(state, event)`` for every record from the earliest
    offset up to ``until`` (exclusive; None = the log end when called).

    Events are :class:`~labkit.codec.DecodedEvent` (decoded once, fast: ``event.data`` is the
    dict, ``event.model()`` validates). Order: partition by partition, each in offset order,
    which keeps every key's order. ``on_state(state, event)`` is called after each fold.
    Bad records raise DecodeError, or go to a dead-letter topic as in :func:`read`.
    """
    cluster = resolve(cluster)
    dead = dead_letters(cluster, topic, errors, dead_letter_topic)  # checks errors=, sends nothing
    if not callable(fold):
        raise UsageError(f"fold={fold!r} is not a function; pass fold(state, event) -> state")
    reader = BoundedReader(cluster, topic, extra_config=extra_config, timeout=timeout)
    state = initial
    try:
        ranges = reader.ranges(reader.partitions(None), "earliest",
                               "end" if until is None else until)

        def bad(m: Any, exc: DecodeError) -> None:
            bad_record(m, exc, topic, dead)

        with _gc_paused():
            for batch in reader.batches(ranges):
                for event in decode_messages(batch, bad):  # the hot loop: keep it lean
                    state = fold(state, event)
                    if on_state is not None:
                        on_state(state, event)
    finally:
        reader.close()
        if dead is not None:
            dead.close()
    return state


__all__ = ["CommitError", "ReadTimeoutError", "UnknownTopicError", "read", "replay"]
