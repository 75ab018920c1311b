"""The codec: CloudEvents binary mode on Kafka records, fast and full decoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from labkit.codec import (
    CONTENT_TYPE,
    decode,
    decode_fast,
    encode,
    encode_fast,
)
from labkit.events import CE_TYPES, Event, OrderPlaced, Pizza
from labkit.exceptions import DecodeError
from labkit.scenarios import get_scenario

T0 = datetime(2025, 1, 6, 11, 30, 15, 250000, tzinfo=UTC)
ID = "7f1c4c5e-2d7e-4a51-9d0e-0c9d1f2a3b4c"
HEADERS = ["ce_specversion", "ce_type", "ce_source", "ce_id", "ce_time", "ce_subject",
           "content-type"]  # fmt: skip


def order() -> OrderPlaced:
    items = [Pizza(name="funghi", size="large", price=13.5)]
    return OrderPlaced(order_id="ord-000042", customer_id="cust-00007", items=items, total=13.5)


@pytest.fixture(scope="module")
def sample() -> list[Event]:
    """At least one event of every type."""
    events = [e.event for e in get_scenario("pizza", seed=11, limit=1500) if e.event]
    assert {e.ce_type for e in events} == set(CE_TYPES)
    return events


def test_encode_is_cloudevents_binary_mode() -> None:
    r = encode(order(), time=T0, id=ID)
    assert r.key == b"ord-000042"
    assert [name for name, _ in r.headers] == HEADERS
    h = dict(r.headers)
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_type"] == b"pizza.order.placed"
    assert h["ce_source"] == b"/pizza/orders"
    assert h["ce_id"] == ID.encode()
    assert h["ce_time"] == b"2025-01-06T11:30:15.250000Z"
    assert h["ce_subject"] == b"ord-000042"
    assert h["content-type"] == b"application/json"
    assert orjson.loads(r.value) == order().model_dump(mode="json")


def test_encode_options() -> None:
    e = order()
    other = encode(e, source="/somewhere/else", time=T0, id=ID)
    assert dict(other.headers)["ce_source"] == b"/somewhere/else"
    cet = timezone(timedelta(hours=1))
    assert encode(e, time=T0.astimezone(cet), id=ID) == encode(e, time=T0, id=ID)
    a, b = encode(e), encode(e)
    assert dict(a.headers)["ce_id"] != dict(b.headers)["ce_id"]
    when = decode(a.value, a.headers).time
    assert when is not None and abs(when - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError, match="timezone"):
        encode(e, time=datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        encode({"order_id": "x"})  # type: ignore[arg-type]


def test_encode_fast_is_byte_identical_to_the_sdk(sample: list[Event]) -> None:
    for i, event in enumerate(sample):
        when = T0 + timedelta(seconds=i * 0.731)
        assert encode_fast(event, time=when, id=f"id-{i}") == encode(event, time=when, id=f"id-{i}")


def test_round_trip(sample: list[Event]) -> None:
    for i, event in enumerate(sample):
        when = T0 + timedelta(milliseconds=i)
        r = encode(event, time=when, id=f"id-{i}")
        for decoded in (decode(r.value, r.headers, r.key), decode_fast(r.value, r.headers, r.key)):
            assert decoded.model() == event
            assert decoded.type == event.ce_type
            assert decoded.name == type(event).__name__
            assert decoded.id == f"id-{i}"
            assert decoded.source == event.source
            assert decoded.time == when and decoded.time.tzinfo is not None
            assert decoded.key == decoded.subject == event.key
            assert decoded.data == event.model_dump(mode="json")


def test_key_falls_back_to_subject_and_headers_may_be_a_dict() -> None:
    r = encode(order(), time=T0, id=ID)
    d = decode_fast(r.value, dict(r.headers))
    assert d.key == "ord-000042" and d.id == ID
    assert decode(r.value, dict(r.headers), key="other").key == "other"
    assert d.to_dict()["time"] == T0


def test_sdk_reads_what_we_write_and_we_read_what_it_writes() -> None:
    from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event, to_binary_event
    from cloudevents.core.v1.event import CloudEvent

    r = encode(order(), time=T0, id=ID)
    ce = from_binary_event(KafkaMessage(dict(r.headers), r.key, r.value))
    assert (ce.get_type(), ce.get_id(), ce.get_time()) == ("pizza.order.placed", ID, T0)
    assert ce.get_data() == order().model_dump(mode="json")
    assert ce.get_extension("partitionkey") == "ord-000042"

    attrs = {"type": "pizza.order.placed", "source": "/elsewhere", "id": "x1", "time": T0,
             "datacontenttype": "application/json"}  # fmt: skip
    message = to_binary_event(CloudEvent(attrs, order().model_dump(mode="json")))
    assert b'", "' in message.value  # the SDK's own JSON layout, not ours
    decoded = decode(message.value, list(message.headers.items()), b"ord-000042")
    assert decoded.model() == order() and decoded.source == "/elsewhere"


def record(**changes: Any) -> tuple[Any, Any]:
    """A good record's (value, headers) with some headers replaced (None drops one)."""
    r = encode(order(), time=T0, id=ID)
    headers = dict(r.headers)
    value = changes.pop("value", r.value)
    for name, v in changes.items():
        if v is None:
            del headers[name]
        else:
            headers[name] = v
    return value, list(headers.items())


BAD_FOR_BOTH = {
    "truncated json": (record(value=b'{"order_id": "ord-1", "ite'), "not valid JSON"),
    "binary garbage": (record(value=b"\xff\xfe\x00"), "not valid JSON"),
    "json array": (record(value=b"[1, 2]"), "JSON list, expected an object"),
    "no ce_type": (record(ce_type=None), "missing ce_type"),
    "no headers": ((b"{}", None), "missing ce_type"),
    "unknown type": (record(ce_type=b"pizza.order.teleported"), "pizza.order.teleported"),
    "headers not pairs": ((b"{}", [("ce_type",)]), "headers are not"),
}
BAD_FOR_DECODE = {
    "data misfit": (record(value=b'{"order_id": null}'), "does not fit OrderPlaced"),
    "wrong total": (
        record(value=orjson.dumps({**order().model_dump(mode="json"), "total": 1})),
        "sum of the item prices",
    ),
    "no ce_id": (record(ce_id=None), "missing or empty ce_id"),
    "empty source": (record(ce_source=b""), "missing or empty ce_source"),
    "empty subject": (record(ce_subject=b""), "invalid CloudEvents headers"),
    "bad extension": (record(**{"ce_x-y": b"1"}), "invalid CloudEvents headers"),
    "bad time": (record(ce_time=b"yesterday"), "not an RFC 3339"),
    "naive time": (record(ce_time=b"2025-01-06T11:00:00"), "no timezone"),
    "no time": (record(ce_time=None), "missing or empty ce_time"),
    "old spec": (record(ce_specversion=b"0.3"), "ce_specversion"),
    "not json type": (record(**{"content-type": b"text/plain"}), "content-type"),
}


@pytest.mark.parametrize("case", list(BAD_FOR_BOTH))
def test_bad_records_raise_decode_error(case: str) -> None:
    (value, headers), needle = BAD_FOR_BOTH[case]
    for fn in (decode, decode_fast):
        with pytest.raises(DecodeError, match=needle) as info:
            fn(value, headers, where="pizza-orders[2]@1041")
        message = str(info.value)
        assert message.startswith("pizza-orders[2]@1041: "), message
        assert "\n" not in message


@pytest.mark.parametrize("case", list(BAD_FOR_DECODE))
def test_full_decode_checks_more(case: str) -> None:
    (value, headers), needle = BAD_FOR_DECODE[case]
    with pytest.raises(DecodeError, match=needle) as info:
        decode(value, headers)
    assert "\n" not in str(info.value)


def test_fast_decode_defers_the_model_check() -> None:
    (value, headers), _ = BAD_FOR_DECODE["data misfit"]
    lazy = decode_fast(value, headers)
    assert lazy.data == {"order_id": None}
    with pytest.raises(DecodeError, match=r"at offset 9: .*does not fit OrderPlaced"):
        lazy.model(where="at offset 9")


def test_good_record_passes_every_check() -> None:
    value, headers = record()
    assert decode(value, headers).model() == order()
    assert dict(headers)["content-type"] == CONTENT_TYPE.encode()  # the constant is the wire


@pytest.mark.parametrize("headers", [None, [], "with ce_type"])
def test_a_null_value_is_a_tombstone(headers: Any) -> None:
    value, good = record(value=None)
    hdrs = good if headers == "with ce_type" else headers
    for fn in (decode, decode_fast):
        event = fn(value, hdrs, b"ord-000042")
        assert event.tombstone and event.data is None and event.name == "Tombstone"
        assert event.key == "ord-000042"
        assert event.type == ("pizza.order.placed" if hdrs else None)
        with pytest.raises(DecodeError, match=r"tombstone .* has no data"):
            event.model()
    assert not decode_fast(*record()).tombstone  # a value is never one
