"""The one codec: pizza-shop events <-> Kafka records in CloudEvents binary content mode.

A record's value is the event's data as compact JSON; its headers carry the CloudEvents
attributes (``ce_specversion``, ``ce_type``, ``ce_source``, ``ce_id``, ``ce_time``,
``ce_subject``) and ``content-type: application/json``; its key is the entity id
(``customer_id`` or ``order_id``, also in ``ce_subject``).

* :func:`encode` builds the record with the CloudEvents SDK (``cloudevents.core.bindings.kafka``);
  :func:`encode_fast` builds the same bytes by hand (tests check they are identical).
* :func:`decode` checks everything: headers via the SDK, data against the pydantic model.
* :func:`decode_fast` is for replaying millions of records: it finds ``ce_type``, parses the
  value with orjson and defers the rest; the data is *not* checked against the model until
  :meth:`DecodedEvent.model` is called.

Measured on a busy 2-vCPU VM, 100k pizza-shop records (values ~104 bytes), best of 5:
decode_fast 0.34-0.73M events/s (1.4-2.9 us), decode 20-27k events/s (~40 us);
encode_fast 135-165k events/s, encode (SDK) 38-62k events/s.

A record with a null value is a **tombstone** (on a compacted topic: "delete this key"): both
decoders return it as a :class:`DecodedEvent` with ``tombstone`` true, ``data`` None and
``name`` ``"Tombstone"`` (its ``type`` is the ``ce_type`` header if the producer sent one), so
a fold or handler that dispatches on ``event.name`` never meets a None ``data`` by surprise.

Bad input raises :class:`~labkit.exceptions.DecodeError` with one line saying what is wrong,
prefixed with ``where`` (e.g. ``"pizza-orders[2]@1041"``) when the caller passes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from labkit.events import CE_TYPES, Event
from labkit.exceptions import DecodeError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
TOMBSTONE = "Tombstone"
"""``DecodedEvent.name`` of a record with a null value (a deletion on a compacted topic)."""

Headers = Sequence[tuple[str, bytes | None]] | Mapping[str, bytes | None] | None
"""Kafka headers as confluent-kafka gives them (list of pairs, or None) or as a dict."""

_SDK_PREAMBLE = "Failed to create CloudEvent due to the validation errors:: "
_BY_TYPE_BYTES: dict[bytes, type[Event]] = {t.encode(): m for t, m in CE_TYPES.items()}
_new_event = object.__new__


class EncodedRecord(NamedTuple):
    """What to hand to ``Producer.produce(topic, value, key, headers=...)``.

    A named tuple (immutable, and about 5x cheaper to make than a frozen dataclass, which
    matters at 200,000 records a second): ``key, value, headers = record`` works too."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _attributes(
    event: Event, source: str | None, time: datetime | None, id: str | None
) -> dict[str, Any]:
    if not isinstance(event, Event):
        raise TypeError(f"expected a labkit.events model, got {type(event).__name__}")
    if time is None:
        time = datetime.now(UTC)
    elif time.tzinfo is None:
        raise ValueError("time must be timezone-aware, e.g. datetime.now(timezone.utc)")
    # Header order is part of the byte-identical output; encode_fast writes the same order.
    return {
        "specversion": SPECVERSION,
        "type": event.ce_type,
        "source": source or event.source,
        "id": id or str(uuid.uuid4()),
        "time": time.astimezone(UTC),
        "subject": event.key,
        "datacontenttype": CONTENT_TYPE,
    }


def _data(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


def encode(
    event: Event, *, source: str | None = None, time: datetime | None = None, id: str | None = None
) -> EncodedRecord:
    """Encode an event with the CloudEvents SDK (binary mode).

    ``source`` defaults to the model's service, ``time`` to now (UTC), ``id`` to a random UUID.
    """
    from cloudevents.core.bindings.kafka import to_binary
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    attributes = _attributes(event, source, time, id)
    key = attributes["subject"].encode()
    message = to_binary(CloudEvent(attributes, _data(event)), JSONFormat(), lambda _: key)
    return EncodedRecord(key=key, value=message.value, headers=list(message.headers.items()))


def _time_text(time: datetime) -> str:
    text = time.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def encode_fast(
    event: Event, *, source: str | None = None, time: datetime | None = None, id: str | None = None
) -> EncodedRecord:
    """Same bytes as :func:`encode`, without building SDK objects (used by the scenarios)."""
    a = _attributes(event, source, time, id)
    key = a["subject"].encode()
    headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_type", a["type"].encode()),
        ("ce_source", a["source"].encode()),
        ("ce_id", a["id"].encode()),
        ("ce_time", _time_text(a["time"]).encode()),
        ("ce_subject", key),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    return EncodedRecord(key=key, value=_data(event), headers=headers)


class DecodedEvent:
    """A decoded record: CloudEvents attributes, the Kafka key and the data as a dict
    (``data`` is None, ``model_class`` None and ``name`` ``"Tombstone"`` for a tombstone)."""

    __slots__ = ("_headers", "_key", "_map", "_model", "data", "model_class", "type")
    # declared for the type checker only: both slots stay unset until first use
    _map: dict[str, bytes]
    _model: Event

    def __init__(
        self,
        type: str | None,
        data: dict[str, Any] | None,
        headers: Headers,
        key: bytes | str | None,
        model_class: type[Event] | None,
    ) -> None:
        self.type = type
        self.data = data
        self.model_class = model_class
        self._headers = headers
        self._key = key
        # _map and _model stay unset until needed (fewer stores on the fast path);
        # decode_fast makes its events without this call: a new slot set here goes there too

    def header(self, name: str) -> str | None:
        """A header's value as text (``"ce_id"``, ``"content-type"``...), or None."""
        try:
            hmap = self._map
        except AttributeError:
            hmap = self._map = _header_map(self._headers)
        raw = hmap.get(name)
        return None if raw is None else raw.decode("utf-8", "replace")

    @property
    def name(self) -> str:
        """The model name, e.g. ``"OrderPlaced"``; ``"Tombstone"`` for a null value."""
        return TOMBSTONE if self.model_class is None else self.model_class.__name__

    @property
    def tombstone(self) -> bool:
        """A record with a null value: on a compacted topic, the deletion of its key."""
        return self.data is None

    @property
    def id(self) -> str | None:
        return self.header("ce_id")

    @property
    def source(self) -> str | None:
        return self.header("ce_source")

    @property
    def subject(self) -> str | None:
        return self.header("ce_subject")

    @property
    def time(self) -> datetime | None:
        """``ce_time`` as an aware datetime (None only if a foreign producer left it out)."""
        text = self.header("ce_time")
        return None if text is None else _parse_time(text, None)

    @property
    def key(self) -> str | None:
        """The Kafka record key as text, or ``ce_subject`` when the key was not given."""
        if self._key is None:
            return self.subject
        if isinstance(self._key, bytes):
            return self._key.decode("utf-8", "replace")
        return self._key

    def model(self, *, where: str | None = None) -> Event:
        """The data validated as its pydantic model (cached); DecodeError if it does not fit."""
        try:
            return self._model
        except AttributeError:
            if self.model_class is None or self.data is None:
                raise _fail(f"a tombstone (key {self._key!r:.60}, null value) has no data "
                            "to validate", where) from None
            self._model = _validate(self.model_class, self.data, where)
            return self._model

    def to_dict(self) -> dict[str, Any]:
        """Attributes and data as a flat-ish dict (handy for a DataFrame row)."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "time": self.time,
            "key": self.key,
            "data": self.data,
        }

    def __repr__(self) -> str:
        return f"DecodedEvent(type={self.type!r}, key={self.key!r}, data={self.data!r})"


def _fail(message: str, where: str | None) -> DecodeError:
    return DecodeError(f"{where}: {message}" if where else message)


def _parse_time(text: str, where: str | None) -> datetime:
    try:
        time = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"ce_time {text[:40]!r} is not an RFC 3339 timestamp", where) from None
    if time.tzinfo is None:
        raise _fail(f"ce_time {text[:40]!r} has no timezone", where)
    return time


def _header_map(headers: Headers, where: str | None = None) -> dict[str, bytes]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, bytes] = {}
    try:
        for name, value in items:
            if not isinstance(name, str):
                raise _fail(f"header name {name!r:.60} is {type(name).__name__}, expected "
                            "text (headers are not (name, bytes) pairs)", where)
            if value is None:
                continue
            if not isinstance(value, bytes | bytearray | memoryview):  # bytes(5) is 5 zeros
                raise _fail(f"header {name[:60]!r} is {type(value).__name__}, expected bytes "
                            "(headers are not (name, bytes) pairs)", where)
            result[name.lower()] = bytes(value)
    except (TypeError, ValueError):
        raise _fail("headers are not (name, bytes) pairs", where) from None
    return result


def _validate(model: type[Event], data: dict[str, Any], where: str | None) -> Event:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "data"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = f"{model.ce_type} data does not fit {model.__name__}: {loc}: {first['msg']}"
        raise _fail(message + more, where) from None


def _type_header(headers: Headers, where: str | None) -> bytes | None:
    if headers is None:
        return None
    if isinstance(headers, Mapping):
        return headers.get("ce_type")
    try:
        for name, raw in headers:
            if name == "ce_type":
                return raw
    except (TypeError, ValueError):
        raise _fail("headers are not (name, bytes) pairs", where) from None
    return None


def _bad_type(raw: object, where: str | None) -> DecodeError:
    if raw is None:
        return _fail("missing ce_type header (labkit expects CloudEvents binary mode)", where)
    if not isinstance(raw, bytes | bytearray | memoryview):
        return _fail(f"ce_type header is {type(raw).__name__}, expected bytes "
                     "(headers are not (name, bytes) pairs)", where)
    shown = bytes(raw).decode("utf-8", "replace")[:80]
    return _fail(f"unknown event type {shown!r} (not in labkit.events.CE_TYPES)", where)


def _tombstone(headers: Headers, key: bytes | str | None, raw: object) -> DecodedEvent:
    """A record with a null value; ``type`` is its ce_type header if it has a known one."""
    model = _BY_TYPE_BYTES.get(raw) if isinstance(raw, bytes) else None
    return DecodedEvent(None if model is None else model.ce_type, None, headers, key, None)


def _bad_value(value: Any, where: str | None) -> DecodeError:
    try:
        data = orjson.loads(value)
    except (orjson.JSONDecodeError, TypeError) as exc:
        return _fail(f"value is not valid JSON ({exc})", where)
    return _fail(f"value is JSON {type(data).__name__}, expected an object", where)


def decode_fast(
    value: bytes | None,
    headers: Headers,
    key: bytes | str | None = None,
    *,
    where: str | None = None,
) -> DecodedEvent:
    """Decode without model validation: find ``ce_type``, ``orjson.loads`` the value.

    The other headers are parsed into a dict on first use. A null value is a tombstone
    (returned, with or without headers). Raises DecodeError for a missing or unknown
    ``ce_type`` or a value that is not a JSON object.
    """
    raw = None
    if type(headers) is list:  # what confluent-kafka gives: the hot path, inlined
        try:
            for name, raw in headers:  # noqa: B007 (raw is used after the break)
                if name == "ce_type":
                    break
            else:
                raw = None
        except (TypeError, ValueError):
            raw = _type_header(headers, where)
    else:
        raw = _type_header(headers, where)
    try:
        model = _BY_TYPE_BYTES.get(raw)  # type: ignore[arg-type]
    except TypeError:  # an unhashable header value (bytearray, list...)
        model = None
    if model is None:
        if value is None:  # off the hot path: a tombstone needs no ce_type
            return _tombstone(headers, key, raw)
        raise _bad_type(raw, where)
    try:
        data = orjson.loads(value)  # type: ignore[arg-type]
    except (orjson.JSONDecodeError, TypeError):
        data = None
    if type(data) is not dict:
        if value is None:
            return _tombstone(headers, key, raw)
        raise _bad_value(value, where)
    event = _new_event(DecodedEvent)  # __init__'s stores without its call: the hot path
    event.type, event.data, event.model_class, event._headers, event._key = (
        model.ce_type, data, model, headers, key)
    return event


def decode(
    value: bytes | None,
    headers: Headers,
    key: bytes | str | None = None,
    *,
    where: str | None = None,
) -> DecodedEvent:
    """Decode and check a record: CloudEvents headers (SDK), time, content type and the data."""
    from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
    from cloudevents.core.exceptions import BaseCloudEventException
    from cloudevents.core.formats.json import JSONFormat

    hmap = _header_map(headers, where)
    decoded = decode_fast(value, hmap, key, where=where)
    if decoded.tombstone:  # a deletion: no data, and CloudEvents headers are optional
        return decoded
    content_type = hmap.get("content-type", CONTENT_TYPE.encode())
    if not content_type.split(b";")[0].strip().endswith(b"json"):
        shown = content_type[:60].decode("utf-8", "replace")
        raise _fail(f"content-type {shown!r} is not JSON", where)
    specversion = hmap.get("ce_specversion")
    if specversion != SPECVERSION.encode():
        got = None if specversion is None else specversion[:20].decode("utf-8", "replace")
        raise _fail(f"ce_specversion is {got!r}, expected {SPECVERSION!r}", where)
    for required in ("ce_id", "ce_source", "ce_time"):
        if not hmap.get(required):  # the SDK would invent a missing id
            raise _fail(f"missing or empty {required} header", where)
    for name, raw in hmap.items():  # the SDK would only say "'utf-8' codec can't decode"
        if name.startswith("ce_"):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _fail(f"header {name[:60]!r} is not UTF-8 text", where) from None
    time = hmap["ce_time"]
    _parse_time(time.decode("utf-8", "replace"), where)
    try:  # the SDK checks the required attributes (id, source...) and their types
        body = value.encode() if isinstance(value, str) else bytes(value or b"")
        from_binary(KafkaMessage(hmap, None, body), JSONFormat())
    except (BaseCloudEventException, ValueError, TypeError, OverflowError) as exc:
        text = " ".join(str(exc).split()).replace(_SDK_PREAMBLE, "")[:200]
        raise _fail(f"invalid CloudEvents headers: {text}", where) from None
    decoded.model(where=where)  # validates against the model and caches it
    return decoded


__all__ = [
    "CONTENT_TYPE",
    "SPECVERSION",
    "TOMBSTONE",
    "DecodedEvent",
    "EncodedRecord",
    "Headers",
    "decode",
    "decode_fast",
    "encode",
    "encode_fast",
]
