"""Exercise checks: compare a learner's result with the broker's real state.

Each check returns a :class:`CheckResult`: ✓ when it passes, else a hint saying what differs
(``key c-17: expected latest value 'b', topic has 'a'``). ``result.raise_if_failed()`` turns
a failure into :class:`labkit.exceptions.CheckFailed`. Topics are read exactly: every
partition from its log-start offset to the high watermark taken when the check starts.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec

from labkit.cluster import resolve
from labkit.exceptions import CheckFailed, UnknownTopicError, UsageError
from labkit.kafka import groups
from labkit.kafka.clients import TIMEOUT
from labkit.kafka.clients import committed as read_committed
from labkit.kafka.offsets import watermarks
from labkit.kafka.ranges import BoundedReader
from labkit.kafka.topics import partition_ids, topic_configs
from labkit.lab import progress
from labkit.lab.exercises import strict_checks
from labkit.lab.own import qualify_arguments
from labkit.lab.preconditions import still_running  # re-exported: check.still_running
from labkit.validate import non_negative, positive

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = [
    "CheckResult", "busy_group", "committed", "committed_records", "compacted_latest",
    "messages_in_topic", "partition_count", "read_topic", "state_equals", "still_running",
    "topic_config",
]

SHOW = 3  # differences spelled out in a hint


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``passed`` and a one-line ``message`` (the hint if not)."""

    passed: bool
    message: str
    check: str = "check"

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"✓ {self.check}: {self.message}" if self.passed else (
            f"✗ {self.check}: {self.message}")

    def _repr_html_(self) -> str:
        color, mark = ("#1a7f37", "✓") if self.passed else ("#cf222e", "✗")
        label = "" if self.passed else "<b>Hint:</b> "
        return (f'<div style="color:{color}"><b>{mark} {html.escape(self.check)}</b> — '
                f"{label}{html.escape(self.message)}</div>")

    def raise_if_failed(self) -> CheckResult:
        """Return self if passed, else raise :class:`CheckFailed` with the hint."""
        if not self.passed:
            raise CheckFailed(f"{self.check}: {self.message}")
        return self


P = ParamSpec("P")


def _check(fn: Callable[P, CheckResult]) -> Callable[P, CheckResult]:
    """A public check: in a lesson run with its solutions (CI, an instructor's demo) a
    failing result raises :class:`CheckFailed`, so a solution that stopped being true fails
    the run; otherwise the result is returned for the student to read."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
        args, kwargs = qualify_arguments(fn, args, kwargs)  # type: ignore[assignment]
        result = fn(*args, **kwargs)
        progress.report(result.check, result.passed, result.message)  # class mode only
        if not result.passed and strict_checks():
            raise CheckFailed(f"{result.check}: {result.message}")
        return result

    return run


class Record(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def _short(value: Any, width: int = 60) -> str:
    if isinstance(value, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            value = value.decode()
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(diffs: list[str], total: int, what: str) -> str:
    more = f" (and {len(diffs) - SHOW} more)" if len(diffs) > SHOW else ""
    return f"{len(diffs)} of {total} {what} differ: " + "; ".join(diffs[:SHOW]) + more


def _parts(c: Cluster, topic: str) -> list[int] | None:
    """The topic's partitions, or None if it does not exist (one metadata request)."""
    try:
        return partition_ids(c, topic)
    except UnknownTopicError:
        return None


def _missing(topic: str, check: str) -> CheckResult:
    return CheckResult(False, f"topic {topic!r} does not exist; create it first (or check "
                       "the name)", check)


def read_topic(topic: str, *, cluster: Cluster | None = None, timeout: float = 60.0,
               extra_config: dict[str, Any] | None = None) -> list[Record]:
    """Every record of ``topic``, partition by partition in offset order, from the log-start
    offset up to the high watermark taken at the start (records produced meanwhile may or
    may not be included): the same bounded reader as ``labkit.read``. Raises
    ReadTimeoutError if that takes longer than ``timeout``."""
    with BoundedReader(resolve(cluster), topic, extra_config=extra_config,
                       timeout=timeout) as reader:
        ranges = reader.ranges(reader.partitions())
        return [Record(m.partition(), m.offset(), m.key(), m.value())
                for m in reader.records(ranges)]


def _matches(expected: Any, actual: bytes | None) -> bool:
    """Does the record value ``actual`` equal ``expected`` (bytes, text, or JSON data)?"""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bytes):
        return actual == expected
    if isinstance(expected, str):
        return actual.decode("utf-8", errors="replace") == expected
    try:
        return bool(json.loads(actual) == expected)
    except ValueError:
        return False


def _key_bytes(key: Any) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode()
    raise UsageError(f"expected keys must be str or bytes, not {type(key).__name__} "
                      f"({key!r}); write them as the producer did, e.g. 'c-17'")


@_check
def compacted_latest(topic: str, expected: Mapping[Any, Any] | None = None, *,
                     unique: bool | None = None, cluster: Cluster | None = None,
                     timeout: float = 60.0) -> CheckResult:
    """The compacted ``topic`` holds exactly the latest value per key.

    ``expected``: key -> latest value (bytes, text, or JSON data compared with the decoded
    value; None means the key was deleted by a tombstone). ``unique``: also require that no
    key appears twice (compaction has run); default True when ``expected`` is None."""
    name = "compacted_latest"
    unique = expected is None if unique is None else unique
    if expected is None and not unique:
        raise UsageError("nothing to check: pass expected={key: value} and/or unique=True")
    want = {_key_bytes(k): v for k, v in (expected or {}).items()}
    c = resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    records = read_topic(topic, cluster=c, timeout=timeout)
    latest: dict[bytes, bytes | None] = {}
    seen: dict[bytes, list[str]] = {}
    nulls = 0
    for r in records:
        if r.key is None:
            nulls += 1
            continue
        latest[r.key] = r.value
        seen.setdefault(r.key, []).append(f"{r.partition}@{r.offset}")
    live = {k: v for k, v in latest.items() if v is not None}
    diffs: list[str] = []
    if unique:
        diffs += [f"key {_short(k)} appears {len(at)} times (partition@offset "
                  f"{', '.join(at[:4])})" for k, at in seen.items() if len(at) > 1]
        if nulls:
            diffs.append(f"{nulls} record(s) have no key; a compacted topic needs keys")
    if expected is not None:
        for k, v in want.items():
            if not _matches(v, live.get(k)):
                has = ("no such key" if k not in latest else "it deleted (tombstone)"
                       if latest[k] is None else _short(latest[k]))
                diffs.append(f"key {_short(k)}: expected latest value {_short(v)}, topic has "
                             f"{has}")
        diffs += [f"key {_short(k)}: not expected, topic has {_short(v)}"
                  for k, v in live.items() if k not in want]
    if diffs:
        why = ("; compaction has not removed older records yet (it never touches the active "
               "segment: roll it, e.g. with a small segment.ms, and wait for the cleaner)"
               if any(" times (" in d for d in diffs) else "")
        return CheckResult(False, _summary(diffs, len(set(seen) | set(want)), "keys") + why,
                           name)
    what = ("the expected latest value for each of " if expected is not None else "") + (
        f"{len(live)} keys" + (", each once" if unique else ""))
    return CheckResult(True, f"topic {topic!r} holds {what}", name)


@_check
def committed(group: str, topic: str, offsets: int | Mapping[int, int], *,
              cluster: Cluster | None = None) -> CheckResult:
    """``group`` committed offset ``offsets`` on every partition of ``topic`` (an int), or
    the given offset per partition (a dict ``{partition: offset}``)."""
    name = "committed"
    given = [offsets] if isinstance(offsets, int) else [*offsets, *offsets.values()]
    if any(not isinstance(v, int) or v < 0 for v in given):
        raise UsageError(f"offsets must be a non-negative int or {{partition: offset}} of "
                          f"them, got {offsets!r}")
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    want = dict.fromkeys(parts, offsets) if isinstance(offsets, int) else dict(offsets)
    done = read_committed(c.config(), group, [(topic, p) for p in parts], timeout=TIMEOUT)
    if not done and groups.describe(c, group).state.name == "DEAD":
        return CheckResult(False, f"group {group!r} does not exist: it has committed nothing "
                           f"yet (did the consumer use group.id={group!r} and commit?)", name)
    marks = watermarks(c, [(topic, p) for p in parts])
    diffs = []
    for p, n in sorted(want.items()):
        if p not in parts:
            diffs.append(f"partition {p}: expected committed offset {n}, but {topic!r} has "
                         f"only partitions {parts}")
        elif (topic, p) not in done:
            diffs.append(f"partition {p}: expected committed offset {n}, group {group!r} "
                         "committed nothing there")
        elif done[(topic, p)] != n:
            diffs.append(f"partition {p}: expected committed offset {n}, group {group!r} "
                         f"committed {done[(topic, p)]} (high watermark "
                         f"{marks[(topic, p)][1]})")
    if diffs:
        return CheckResult(False, _summary(diffs, len(want), "partitions"), name)
    return CheckResult(True, f"group {group!r} committed the expected offsets on "
                       f"{len(want)} partition(s) of {topic!r}", name)


def _as_dict(state: Any, side: str) -> dict[Any, Any]:
    if isinstance(state, Mapping):
        return dict(state)
    if hasattr(state, "to_dict") and hasattr(state, "columns"):  # DataFrame: index -> row
        return {k: dict(v) for k, v in state.to_dict("index").items()}
    if hasattr(state, "to_dict"):  # Series
        return dict(state.to_dict())
    raise UsageError(f"{side} must be a dict, Series or DataFrame, not {type(state).__name__}")


def _same(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(fa) and math.isnan(fb)) or math.isclose(fa, fb, rel_tol=rel_tol)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays: ambiguous truth value
        return repr(a) == repr(b)


def _what_differs(key: Any, a: Any, b: Any, rel_tol: float) -> str:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        fields = [f for f in (*a, *(f for f in b if f not in a))
                  if f not in a or f not in b or not _same(a[f], b[f], rel_tol)]
        parts = [f"{f!r}: replayed {_short(a.get(f, '<missing>'), 30)}, live "
                 f"{_short(b.get(f, '<missing>'), 30)}" for f in fields[:SHOW]]
        return f"key {key!r} " + ", ".join(parts)
    return f"key {key!r}: replayed {_short(a)}, live {_short(b)}"


@_check
def state_equals(replayed: Any, live: Any, *, rel_tol: float = 1e-9) -> CheckResult:
    """The state rebuilt by replaying events equals the live state (dicts, Series or
    DataFrames; a DataFrame compares row by row on its index). Floats compare with
    ``rel_tol``; the hint lists the first differences."""
    name = "state_equals"
    a, b = _as_dict(replayed, "replayed"), _as_dict(live, "live")
    diffs = [f"key {k!r} only in live ({_short(b[k], 40)})" for k in b if k not in a]
    diffs += [f"key {k!r} only in replayed ({_short(a[k], 40)})" for k in a if k not in b]
    diffs += [_what_differs(k, a[k], b[k], rel_tol) for k in a
              if k in b and not _same(a[k], b[k], rel_tol)]
    if diffs:
        return CheckResult(False, _summary(diffs, len(a.keys() | b.keys()), "keys"), name)
    return CheckResult(True, f"replayed and live state agree on all {len(a)} keys", name)


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ",".join(str(v) for v in value)
    return str(value)


@_check
def topic_config(topic: str, *, cluster: Cluster | None = None, **expected: Any) -> CheckResult:
    """``topic`` has the given settings: ``topic_config("t", cleanup_policy="compact",
    retention_ms=60000)`` (underscores stand for dots; ``**{"cleanup.policy": ...}`` works)."""
    name = "topic_config"
    if not expected:
        raise UsageError("name at least one setting, e.g. topic_config(t, "
                          "cleanup_policy='compact')")
    c = resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    entries = topic_configs(c, [topic])[topic]
    diffs = []
    for key, value in expected.items():
        conf = key.replace("_", ".")
        if conf not in entries:
            import difflib

            near = difflib.get_close_matches(conf, list(entries), n=3)
            raise UsageError(f"{conf!r} is not a topic setting" + (
                f"; did you mean {', '.join(near)}?" if near else ""))
        want, has = _config_text(value), entries[conf].value
        if conf == "cleanup.policy":
            same = sorted(want.replace(" ", "").split(",")) == sorted((has or "").split(","))
        else:
            same = want == has
        if not same:
            source = "default" if entries[conf].is_default else "set on the topic"
            diffs.append(f"{conf}: expected {want!r}, topic has {has!r} ({source})")
    if diffs:
        return CheckResult(False, _summary(diffs, len(expected), "settings"), name)
    shown = ", ".join(f"{k.replace('_', '.')}={_config_text(v)}" for k, v in expected.items())
    return CheckResult(True, f"topic {topic!r} has {shown}", name)


@_check
def partition_count(topic: str, n: int, *, cluster: Cluster | None = None) -> CheckResult:
    """``topic`` has ``n`` partitions."""
    name = "partition_count"
    positive("n", n, whole=True)
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    if len(parts) != n:
        return CheckResult(False, f"topic {topic!r} has {len(parts)} partition(s), expected {n}",
                           name)
    return CheckResult(True, f"topic {topic!r} has {n} partition(s)", name)


@_check
def messages_in_topic(topic: str, n: int, *, cluster: Cluster | None = None,
                      timeout: float = 60.0) -> CheckResult:
    """``topic`` holds exactly ``n`` records (counted by reading them all: transaction markers,
    aborted and compacted-away records do not count)."""
    name = "messages_in_topic"
    non_negative("n", n)
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    counts = dict.fromkeys(parts, 0)
    for r in read_topic(topic, cluster=c, timeout=timeout):
        counts[r.partition] += 1
    total = sum(counts.values())
    if total != n:
        per = ", ".join(f"{p}: {k}" for p, k in counts.items())
        return CheckResult(False, f"topic {topic!r} holds {total} records, expected {n} "
                           f"(per partition {per})", name)
    return CheckResult(True, f"topic {topic!r} holds {n} records", name)


@_check
def busy_group(group: str, topic: str, *, cluster: Cluster | None = None) -> CheckResult:
    """``group`` is stable, every partition of ``topic`` has one owner, and no member is
    idle (every member owns at least one partition)."""
    name = "busy_group"
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    d = groups.describe(c, group)
    if not d.members:
        return CheckResult(False, f"group {group!r} has no members right now: start them and "
                           "leave them running for the check", name)
    owned = {m.member_id: sorted(tp.partition for tp in m.assignment.topic_partitions
                                 if tp.topic == topic) for m in d.members}
    names = {m.member_id: m.client_id or m.member_id for m in d.members}
    taken = sorted(p for ps in owned.values() for p in ps)
    idle = sorted(names[m] for m, ps in owned.items() if not ps)
    if d.state.name != "STABLE" or taken != sorted(set(taken)):
        return CheckResult(False, f"group {group!r} is {d.state.name.lower()}, still "
                           "rebalancing: run the check again in a second", name)
    if sorted(set(taken)) != parts:
        missing = sorted(set(parts) - set(taken))
        return CheckResult(False, f"partitions {missing} of {topic!r} have no owner in "
                           f"{group!r} ({len(d.members)} member(s)): records there wait", name)
    if idle:
        return CheckResult(False, f"{len(idle)} of {len(d.members)} member(s) of {group!r} "
                           f"own no partition and are idle: {idle}", name)
    return CheckResult(True, f"{len(d.members)} member(s) of {group!r} share the {len(parts)} "
                       f"partitions of {topic!r}, none idle", name)


@_check
def committed_records(group: str, topic: str, n: int, *,
                      cluster: Cluster | None = None) -> CheckResult:
    """``group``'s committed offsets on ``topic`` account for exactly ``n`` records: the sum,
    over partitions, of its committed offset minus the log-start offset."""
    name = "committed_records"
    non_negative("n", n)
    c = resolve(cluster)
    parts = _parts(c, topic)
    if parts is None:
        return _missing(topic, name)
    tps = [(topic, p) for p in parts]
    done = read_committed(c.config(), group, tps, timeout=TIMEOUT)
    if not done:
        return CheckResult(False, f"group {group!r} has committed nothing on {topic!r} (did "
                           f"the consumer use group.id={group!r} and commit?)", name)
    marks = watermarks(c, tps)
    counts = {p: done[(topic, p)] - (marks[(topic, p)].log_start or 0) for p in parts
              if (topic, p) in done}
    total = sum(counts.values())
    if total != n:
        per = ", ".join(f"{p}: {k}" for p, k in counts.items())
        return CheckResult(False, f"the offsets {group!r} committed cover {total} records of "
                           f"{topic!r}, expected {n} (per partition {per}); a committed "
                           "offset is the next record to read, not the last one read", name)
    return CheckResult(True, f"the offsets {group!r} committed cover exactly {n} records", name)
