"""Hostile records: whatever bytes, keys and headers arrive, the codec returns an event or
raises DecodeError (one line), never another exception; and the reader's per-record routing
(:func:`labkit.deadletter.bad_record`) raises or dead-letters a bad record, without a cluster."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labkit.batchcodec import decode_messages
from labkit.codec import DecodedEvent, decode, decode_fast, encode_fast
from labkit.deadletter import bad_record
from labkit.events import CE_TYPES, Event
from labkit.exceptions import ClusterTimeoutError, DecodeError
from labkit.scenarios import get_scenario

EXAMPLES = int(os.environ.get("LABKIT_HYPOTHESIS_EXAMPLES", "300"))  # more: a deeper search
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROUTING = settings(BOUNDED, max_examples=max(1, EXAMPLES // 2))
WHERE = "pizza-orders[2]@1041"
T0 = datetime(2025, 1, 6, 11, 30, tzinfo=UTC)
CE_HEADERS = ("ce_specversion", "ce_type", "ce_source", "ce_id", "ce_time", "ce_subject",
              "content-type", "ce_datacontenttype", "ce_dataschema", "ce_x", "CE_TYPE")


@cache
def samples() -> tuple[Event, ...]:
    """One real event of every type (from the seeded scenario)."""
    by_type: dict[str, Event] = {}
    for e in get_scenario("pizza", seed=11, limit=1500):
        if e.event is not None:
            by_type.setdefault(e.event.ce_type, e.event)
    assert set(by_type) == set(CE_TYPES)
    return tuple(by_type.values())


# -- strategies ---------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=5),
    max_leaves=30,
)
NOT_BYTES = (st.integers(-(10**30), 10**30) | st.text(max_size=20) | st.floats()
             | st.lists(st.integers(), max_size=3) | st.just(object()))
WRONG_TYPES = NOT_BYTES | st.builds(bytearray, st.binary(max_size=8))
INVALID_UTF8 = st.binary(max_size=20).map(lambda b: b + b"\xff\xfe\xc3")


@st.composite
def mutated_data(draw: st.DrawFn) -> bytes:
    """A real event's data (maybe of another type) with fields dropped or replaced."""
    data: dict[str, Any] = draw(st.sampled_from(samples())).model_dump(mode="json")
    for name in draw(st.lists(st.sampled_from(sorted(data)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del data[name]
        else:
            data[name] = draw(JSON | st.sampled_from(
                [-1, 0, 1e308, -1e308, 2**64 - 1, -(2**63), "", "x" * 300, [], {}, [{}],
                 "9999-99-99"]))
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


ODD_VALUES = (
    b"", b"{}", b"[]", b"null", b"1", b'"x"', b"NaN", b'{"a": NaN}', b'{"a": 1e999}',
    b'{"a": 123456789012345678901234567890}', b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}",
    _deep(100), _deep(2000), b"[" * 100_000, b'{"a": "' + b"x" * 1_000_000 + b'"}',
    b'{"a": 1, "a": 2}', b'{"total": -0.0}',
)
VALUES = st.one_of(
    st.none(),
    st.binary(max_size=200),
    INVALID_UTF8,
    JSON.map(orjson.dumps),  # valid JSON of any shape
    mutated_data(),
    st.integers(0, len(ODD_VALUES) - 1).map(ODD_VALUES.__getitem__),  # short reprs on failure
)
KEYS = st.none() | st.binary(max_size=40) | INVALID_UTF8
HEADER_VALUES = st.one_of(
    st.none(), st.binary(max_size=40), INVALID_UTF8,
    st.sampled_from([t.encode() for t in CE_TYPES] + [
        b"1.0", b"0.3", b"application/json", b"text/plain", b"application/json; charset=x",
        b"2025-01-06T11:30:00Z", b"2025-01-06T11:30:00", b"0001-01-01T00:00:00+01:00",
        b"9999-12-31T23:59:59-23:59", b"2025-13-45T99:99:99Z", b"/pizza/orders", b"x" * 5000,
        b"\x00", b" ", b"ord-1"]),
)


@st.composite
def headers(draw: st.DrawFn) -> Any:
    """Headers as Kafka gives them, mostly close to a good record's so the deep checks run."""
    base: list[tuple[str, bytes | None]] = list(
        encode_fast(draw(st.sampled_from(samples())), time=T0, id="id-1").headers)
    base = draw(st.lists(st.sampled_from(base), max_size=10)) if draw(st.booleans()) else base
    for _ in range(draw(st.integers(0, 4))):  # add, duplicate or replace headers
        name = draw(st.sampled_from(CE_HEADERS) | st.text(max_size=12))
        value = draw(HEADER_VALUES | WRONG_TYPES) if draw(st.integers(0, 4)) == 0 else draw(
            HEADER_VALUES)
        if base and draw(st.booleans()):
            base[draw(st.integers(0, len(base) - 1))] = (name, value)
        else:
            base.insert(draw(st.integers(0, len(base))), (name, value))
    shape = draw(st.sampled_from(["list", "list", "list", "dict", "tuple", "none", "odd"]))
    if shape == "dict":
        return dict(base)
    if shape == "tuple":
        return tuple(base)
    if shape == "none":
        return None
    if shape == "odd":  # not pairs at all
        return draw(st.sampled_from([[("ce_type",)], [b"ab"], "ce_type", 5, [(1, 2, 3)],
                                     [None], [("ce_type", b"x", b"y")], {1: b"x"}]))
    return base


def _use(event: DecodedEvent) -> None:
    """Everything a lesson may ask of a decoded event."""
    event.model(where=WHERE)
    for attr in ("name", "id", "source", "subject", "time", "key"):
        getattr(event, attr)
    event.to_dict()
    repr(event)


def _one_line(exc: DecodeError, where: str | None = WHERE) -> None:
    message = str(exc)
    assert where is None or message.startswith(f"{where}: "), message
    assert message and "\n" not in message and len(message) < 1000, message


def _call_must_return_or_decode_error(fn: Any, value: Any, hdrs: Any, key: Any) -> None:
    try:
        event = fn(value, hdrs, key, where=WHERE)
    except DecodeError as exc:
        _one_line(exc)
        return
    try:
        event.model(where=WHERE)
    except DecodeError as exc:
        _one_line(exc)
    try:  # the lazy accessors (no where= of their own) fail with DecodeError too
        _use(event)
    except DecodeError as exc:
        _one_line(exc, None)


# -- the codec ------------------------------------------------------------------------------------
@BOUNDED
@given(value=VALUES, hdrs=headers(), key=KEYS)
@example(value=b"{}", hdrs=[("ce_type", "pizza.order.placed")], key=None)  # a str header value
@example(value=b"{}", hdrs=[("ce_type", bytearray(b"pizza.order.placed"))], key=None)
@example(value=b"{}", hdrs=[("ce_type", ["x"])], key=None)  # unhashable
@example(value=b"{}", hdrs=[(None, b"x"), ("ce_type", b"pizza.order.placed")], key=None)
@example(value=b"{}", hdrs=[("ce_type", b"pizza.order.placed"), ("ce_id", 10**15)], key=None)
def test_decode_fast_returns_an_event_or_raises_decode_error(value: Any, hdrs: Any,
                                                             key: Any) -> None:
    _call_must_return_or_decode_error(decode_fast, value, hdrs, key)


@BOUNDED
@given(value=VALUES, hdrs=headers(), key=KEYS)
@example(value='{"a": 1}', hdrs=[("ce_type", b"pizza.order.placed")], key=None)  # a str value
@example(value=b"{}", hdrs=[(1, b"x"), ("ce_type", b"pizza.order.placed")], key=None)
def test_decode_returns_an_event_or_raises_decode_error(value: Any, hdrs: Any, key: Any) -> None:
    _call_must_return_or_decode_error(decode, value, hdrs, key)


@BOUNDED
@given(event=st.integers(0, len(CE_TYPES) - 1),
       name=st.sampled_from(CE_HEADERS[:6]), wrong=NOT_BYTES)
def test_a_ce_header_of_the_wrong_type_is_named(event: int, name: str, wrong: Any) -> None:
    r = encode_fast(samples()[event], time=T0, id="id-1")
    hdrs = [(n, wrong if n == name else v) for n, v in r.headers]
    for fn in (decode, decode_fast):
        try:
            _use(fn(r.value, hdrs, r.key))
        except DecodeError as exc:
            assert name in str(exc) or "ce_type" in str(exc), str(exc)


def test_good_records_still_decode() -> None:
    for i, event in enumerate(samples()):
        r = encode_fast(event, time=T0 + timedelta(seconds=i), id=f"id-{i}")
        for fn in (decode, decode_fast):
            assert fn(r.value, r.headers, r.key).model() == event


# -- the reader's per-record routing --------------------------------------------------------------
class Msg:
    """A stand-in for a confluent_kafka.Message (the record only; no broker behind it)."""

    def __init__(self, value: bytes | None, headers: Any, key: bytes | None = b"k", *,
                 topic: str = "pizza-orders", partition: int = 2, offset: int = 1041,
                 error: KafkaError | None = None) -> None:
        self._v, self._h, self._k = value, headers, key
        self._t, self._p, self._o, self._e = topic, partition, offset, error

    def error(self) -> KafkaError | None:
        return self._e

    def topic(self) -> str:
        return self._t

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return self._k

    def value(self) -> bytes | None:
        return self._v

    def headers(self) -> Any:
        return self._h

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_736_163_000_000)


class Recorder:
    """DeadLetters' interface (``send(msg, reason)``, ``count``), recording what it got."""

    def __init__(self) -> None:
        self.sent: list[tuple[Msg, str]] = []
        self.count = 0

    def send(self, msg: Msg, reason: str) -> None:
        self.sent.append((msg, reason))
        self.count += 1


def _route(m: Msg, dead: Recorder | None) -> DecodedEvent | None:
    """What read/replay do per record: decode it, or hand it to bad_record."""
    try:
        return decode_fast(m.value(), m.headers(), m.key())
    except DecodeError as exc:
        bad_record(m, exc, m.topic(), dead)  # type: ignore[arg-type]
        return None


@ROUTING
@given(value=VALUES, hdrs=headers(), key=KEYS, partition=st.integers(0, 99),
       offset=st.integers(0, 2**62))
def test_bad_record_without_dead_letters_raises_where(value: Any, hdrs: Any, key: Any,
                                                      partition: int, offset: int) -> None:
    m = Msg(value, hdrs, key, partition=partition, offset=offset)
    try:
        _route(m, None)
    except DecodeError as exc:
        message = str(exc)
        assert message.startswith(f"pizza-orders[{partition}]@{offset}: "), message
        assert "skip_to_dead_letter" in message and "\n" not in message


@ROUTING
@given(value=VALUES, hdrs=headers(), key=KEYS)
def test_bad_record_with_dead_letters_routes_it(value: Any, hdrs: Any, key: Any) -> None:
    dead = Recorder()
    m = Msg(value, hdrs, key)
    event = _route(m, dead)
    if event is None:
        assert len(dead.sent) == 1 and dead.sent[0][0] is m
        reason = dead.sent[0][1]
        assert reason and "\n" not in reason
    else:
        assert dead.sent == []


def test_bad_record_examples() -> None:
    good = encode_fast(samples()[0], time=T0, id="id-1")
    bad = Msg(b"[1, 2]", good.headers, offset=7)
    with pytest.raises(DecodeError, match=r"^pizza-orders\[2\]@7: value is JSON list"):
        _route(bad, None)
    dead = Recorder()
    assert _route(bad, dead) is None and dead.sent == [(bad, "value is JSON list, expected an "
                                                             "object")]
    assert _route(Msg(good.value, good.headers), dead) is not None and dead.count == 1


def test_consumer_events_are_not_dead_lettered() -> None:
    dead = Recorder()
    eof = Msg(None, None, None, error=KafkaError(KafkaError._PARTITION_EOF))
    bad_record(eof, DecodeError(""), "pizza-orders", dead)  # type: ignore[arg-type]
    assert dead.sent == []
    down = Msg(None, None, None, error=KafkaError(KafkaError._TRANSPORT))
    with pytest.raises(ClusterTimeoutError, match="read 'pizza-orders' partition 2"):
        bad_record(down, DecodeError(""), "pizza-orders", dead)  # type: ignore[arg-type]
    assert dead.sent == []


@ROUTING
@given(batch=st.lists(st.tuples(VALUES, headers(), KEYS), max_size=4))
def test_batch_decoding_routes_as_record_by_record(batch: list[Any]) -> None:
    """replay's batch decoder (``decode_messages``) gives the events decode_fast gives and
    hands the records it rejects to the same routing, in the same order; a good record
    between hostile ones still decodes."""
    good = encode_fast(samples()[0], time=T0, id="id-1")
    msgs = [Msg(v, h, k) for v, h, k in batch]
    msgs.insert(len(msgs) // 2, Msg(good.value, list(good.headers)))
    one, many = Recorder(), Recorder()
    want = [e for e in (_route(m, one) for m in msgs) if e is not None]
    got = list(decode_messages(msgs, lambda m, exc: bad_record(m, exc, m.topic(), many)))
    assert many.sent == one.sent
    assert [_facts(e) for e in got] == [_facts(e) for e in want]


def _facts(event: DecodedEvent) -> tuple[Any, ...]:
    try:  # the key of a record without one is its ce_subject, from headers decoded lazily
        key = event.key
    except DecodeError as exc:
        key = str(exc)
    return event.type, event.data, key, event.tombstone
