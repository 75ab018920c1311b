"""Exercise checks on what a topic's log holds, in the manner of :mod:`labkit.lab.check`.

Tombstones and compaction (lesson 02): :func:`deleted` (each key's latest record is a
tombstone, or no record of it is left), :func:`compacted_away` (no record of a key is left at
all: the cleaner removed its values and then its tombstone), :func:`table_equals` (a state
equals the table the topic holds: latest value per key, tombstones deleting).
Events (lesson 03): :func:`latest_event` (a key's newest record is a given event),
:func:`effects_once` (one side effect per matching event of the log) and :func:`ledger`
(a durable SQLite ledger holds the ids of exactly those events).
Counts: :func:`records_read` (a predicted number of records against what a reader gets now).
Offsets (lesson 04): :func:`log_start` (a predicted log-start offset against the broker's),
:func:`at_log_start` (a group's committed offsets are the partitions' log-start offsets).

Every check reads the broker at the moment it runs; none holds an exercise's answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.codec import DecodedEvent, decode_fast
from labkit.exceptions import DecodeError, UsageError
from labkit.kafka.clients import TIMEOUT
from labkit.kafka.clients import committed as read_committed
from labkit.kafka.offsets import watermarks
from labkit.kafka.ranges import BoundedReader
from labkit.lab.check import (
    CheckResult,
    _check,
    _key_bytes,
    _missing,
    _parts,
    _short,
    _summary,
    read_topic,
    state_equals,
)

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["at_log_start", "compacted_away", "deleted", "effects_once", "latest_event",
           "ledger", "log_start", "records_read", "table_equals"]


def _latest(topic: str, c: Cluster) -> dict[bytes, tuple[int, int, bytes | None]]:
    """key -> (partition, offset, value) of its newest record (value None: a tombstone)."""
    return {r.key: (r.partition, r.offset, r.value) for r in read_topic(topic, cluster=c)
            if r.key is not None}


@_check
def deleted(topic: str, keys: Iterable[Any], *, cluster: Cluster | None = None) -> CheckResult:
    """Each of ``keys`` is deleted from the compacted ``topic``: its latest record is a
    tombstone (a null value), or no record of it is left; every other key keeps a value."""
    name, c = "deleted", resolve(cluster)
    wanted = {_key_bytes(k) for k in keys}
    if not wanted:
        raise UsageError("keys is empty: pass the keys that should be deleted")
    if _parts(c, topic) is None:
        return _missing(topic, name)
    latest = _latest(topic, c)
    diffs = [f"key {_short(k)}: its latest record (partition {p}, offset {o}) still has a "
             "value, so every reader still sees it" for k in sorted(wanted)
             if k in latest for p, o, v in [latest[k]] if v is not None]
    gone = sorted(k for k, (_p, _o, v) in latest.items() if v is None and k not in wanted)
    diffs += [f"key {_short(k)} was deleted too, but it should keep its value" for k in gone]
    if diffs:
        return CheckResult(False, _summary(diffs, len(wanted | set(gone)), "keys"), name)
    kept = sum(v is not None for _p, _o, v in latest.values())
    return CheckResult(True, f"{len(wanted)} key(s) deleted on the broker; {kept} other keys "
                       "keep their latest value", name)


@_check
def compacted_away(topic: str, key: Any, *, cluster: Cluster | None = None) -> CheckResult:
    """No record of ``key`` is left in ``topic``: not its values, not even its tombstone."""
    name, c = "compacted_away", resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    k = _key_bytes(key)
    left = [(r.partition, r.offset, r.value is None) for r in read_topic(topic, cluster=c)
            if r.key == k]
    if not left:
        return CheckResult(True, f"no record of key {_short(k)} is left on the broker", name)
    values = [f"{p}@{o}" for p, o, tomb in left if not tomb]
    tombs = [f"{p}@{o}" for p, o, tomb in left if tomb]
    why = (f"still has {len(values)} value(s) (partition@offset {', '.join(values[:4])}): "
           "the cleaner has not compacted them yet" if values else
           f"has only its tombstone left (partition@offset {', '.join(tombs)}): it is kept "
           "for delete.retention.ms after the cleaning that removed the values, and a later "
           "cleaning removes it")
    return CheckResult(False, f"key {_short(k)} {why}", name)


def _table(topic: str, c: Cluster, field: str | None) -> dict[str, Any]:
    """The table the topic holds: key text -> latest JSON value (or one field of it)."""
    table: dict[str, Any] = {}
    for k, (_p, _o, v) in _latest(topic, c).items():
        if v is None:
            continue
        data = json.loads(v)
        table[k.decode("utf-8", "replace")] = data.get(field) if field else data
    return table


@_check
def table_equals(state: Any, topic: str, *, field: str | None = None,
                 cluster: Cluster | None = None) -> CheckResult:
    """``state`` (key -> value) equals the table in ``topic`` on the broker: each key's
    latest JSON value (only its ``field`` when given); keys whose latest record is a
    tombstone are absent."""
    name, c = "table_equals", resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    table = _table(topic, c, field)
    result = state_equals.__wrapped__(state, table)  # type: ignore[attr-defined]
    if result.passed:
        return CheckResult(True, f"yours equals the table on the broker ({len(table)} keys)",
                           name)
    return CheckResult(False, f"(replayed = yours, live = the topic's table on the broker) "
                       f"{result.message}", name)


def _events(topic: str, c: Cluster) -> list[tuple[int, int, DecodedEvent]]:
    """(partition, offset, event) of every record that decodes, log-start to high watermark."""
    out = []
    with BoundedReader(c, topic, timeout=60.0) as reader:
        for m in reader.records(reader.ranges(reader.partitions())):
            try:
                out.append((m.partition(), m.offset(),
                            decode_fast(m.value(), m.headers(), m.key())))
            except DecodeError:
                continue
    return out


def _starts(c: Cluster, topic: str, parts: list[int]) -> dict[int, int | None]:
    marks = watermarks(c, [(topic, p) for p in parts])
    return {p: None if marks.get((topic, p)) is None else marks[(topic, p)][0] for p in parts}


@_check
def latest_event(topic: str, key: str, event_name: str, *, cluster: Cluster | None = None,
                 **fields: Any) -> CheckResult:
    """The newest record of ``key`` in ``topic`` is a ``event_name`` event whose data has
    these ``fields`` (nested values compared whole)."""
    name, c = "latest_event", resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    mine = [(p, o, e) for p, o, e in _events(topic, c) if e.key == key]
    if not mine:
        return CheckResult(False, f"no event with key {key!r} in {topic!r}", name)
    p, o, e = mine[-1]
    if e.name != event_name:
        return CheckResult(False, f"the newest record of {key!r} (partition {p}, offset {o}) "
                           f"is {e.name}, expected {event_name}", name)
    data = e.data or {}
    diffs = [f"{f}: topic has {_short(data.get(f, '<missing>'), 30)}, expected "
             f"{_short(v, 30)}" for f, v in fields.items() if data.get(f) != v]
    if diffs:
        return CheckResult(False, f"offset {o}: " + "; ".join(diffs), name)
    return CheckResult(True, f"{key!r}'s newest event is {event_name} at offset {o}, "
                       f"with {', '.join(fields) or 'its data'} as expected", name)


Select = Callable[[DecodedEvent], bool]


@_check
def effects_once(effects: Iterable[Any], topic: str, select: Select,
                 effect: Callable[[DecodedEvent], Any], *,
                 cluster: Cluster | None = None) -> CheckResult:
    """``effects`` (e.g. emails sent) hold ``effect(event)`` exactly once for every event of
    ``topic`` that ``select`` picks, and nothing else."""
    name, c = "effects_once", resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    want = Counter(effect(e) for _p, _o, e in _events(topic, c) if select(e))
    got = Counter(effects)
    diffs = [f"{_short(x, 50)}: {got[x]} time(s), the log asks for {n}"
             for x, n in want.items() if got[x] != n]
    diffs += [f"{_short(x, 50)}: {n} time(s), no such event in the log"
              for x, n in got.items() if x not in want]
    if diffs:
        return CheckResult(False, _summary(diffs, len(want | got), "effects"), name)
    return CheckResult(True, f"{sum(want.values())} effects, one per matching event", name)


@_check
def ledger(path: str | Path, table: str, topic: str, select: Select, *,
           cluster: Cluster | None = None) -> CheckResult:
    """The SQLite file ``path`` (opened afresh, as after a restart) has a ``table`` whose
    ``event_id`` column holds the ids (``ce_id``) of exactly the events ``select`` picks."""
    name, c = "ledger", resolve(cluster)
    if not Path(path).is_file():
        return CheckResult(False, f"no file {str(path)!r}: the ledger must be on disk to "
                           "survive a restart", name)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            ids = [row[0] for row in db.execute(f'SELECT event_id FROM "{table}"')]
    except sqlite3.Error as exc:
        return CheckResult(False, f"cannot read {table}.event_id from {path}: {exc}", name)
    want = {e.id for _p, _o, e in _events(topic, c) if select(e)}
    missing, extra = want - set(ids), set(ids) - want
    twice = len(ids) - len(set(ids))
    if missing or extra or twice:
        return CheckResult(False, f"the ledger lacks {len(missing)} of the {len(want)} event "
                           f"ids, has {len(extra)} it should not and {twice} twice", name)
    return CheckResult(True, f"after a reopen the ledger holds the {len(want)} event ids",
                       name)


@_check
def records_read(topic: str, prediction: int | None, *,
                 cluster: Cluster | None = None) -> CheckResult:
    """A predicted number of records equals what reading ``topic`` from its log-start offset
    to its high watermark returns now."""
    name, c = "records_read", resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    got = len(read_topic(topic, cluster=c))
    if prediction != got:
        return CheckResult(False, f"you predicted {prediction}; a reader gets {got} records "
                           "now", name)
    return CheckResult(True, f"a reader gets {got} records, as you predicted", name)


@_check
def log_start(topic: str, prediction: int | Mapping[int, int], *,
              cluster: Cluster | None = None) -> CheckResult:
    """A predicted log-start offset (one partition: an int; else {partition: offset}) equals
    the broker's now."""
    name, c = "log_start", resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    starts = _starts(c, topic, parts)
    want = prediction if isinstance(prediction, Mapping) else dict.fromkeys(starts, prediction)
    diffs = [f"partition {p}: you predicted {want.get(p)}, the broker's log-start offset is "
             f"{lo}" for p, lo in starts.items() if want.get(p) != lo]
    if diffs:
        return CheckResult(False, "; ".join(diffs), name)
    return CheckResult(True, f"log-start offset {starts} as you predicted", name)


@_check
def at_log_start(group: str, topic: str, *, cluster: Cluster | None = None) -> CheckResult:
    """``group`` has committed, on every partition of ``topic``, its log-start offset."""
    name, c = "at_log_start", resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    starts = _starts(c, topic, parts)
    done = read_committed(c.config(), group, [(topic, p) for p in parts], timeout=TIMEOUT)
    got = {p: done.get((topic, p)) for p in parts}
    diffs = [f"partition {p}: committed {got[p]}, log-start {lo}"
             for p, lo in sorted(starts.items()) if got[p] != lo]
    if diffs:
        return CheckResult(False, "; ".join(diffs) + " (0 is not the start once retention "
                           "has deleted segments)", name)
    return CheckResult(True, f"{group!r} is at the log-start offset of every partition: "
                       f"{starts}", name)
