"""Decoding consumed messages a batch at a time: what :func:`labkit.codec.decode_fast` gives
record by record, with less Python per record (the readers' hot loops).

* :func:`decode_messages`: DecodedEvents, one by one, for ``labkit.replay``;
* :func:`decode_columns`: columns (header dicts, types, data dicts), for ``labkit.read``.

Both leave any record that is not a plain CloudEvent (a tombstone, a missing or unknown
``ce_type``, a value that is not a JSON object, odd headers) to ``decode_fast``, so they
accept and reject exactly what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from labkit.codec import DecodedEvent, decode_fast
from labkit.events import CE_TYPES, Event
from labkit.exceptions import DecodeError

_PLANS: dict[bytes, tuple[str, type[Event]]] = {
    t.encode(): (t, m) for t, m in CE_TYPES.items()}
_TYPE_TEXT: dict[bytes, str] = {raw: text for raw, (text, _) in _PLANS.items()}


def decode_messages(messages: Iterable[Any], on_bad: Callable[[Any, DecodeError], None]
                    ) -> Iterator[DecodedEvent]:
    """Each consumed message (confluent-kafka's ``Message``) as a DecodedEvent, in order.

    A message ``decode_fast`` rejects (or a consumer event, such as the end of a partition)
    is handed to ``on_bad(message, error)`` instead, and the next one follows. The common
    case is decode_fast's hot path inlined: one generator for the batch instead of a call
    per record (measured on 210,000 shop records: 1.15 instead of 1.45 us a record)."""
    plans, loads, new, cls = _PLANS, orjson.loads, object.__new__, DecodedEvent
    for m in messages:
        headers = m.headers()
        try:
            for name, raw in headers:  # noqa: B007 (raw is used after the break)
                if name == "ce_type":
                    break
            else:
                raw = None
            ce_type, model = plans[raw]  # None, unknown or unhashable: KeyError, TypeError
            data = loads(m.value())  # None: TypeError; not JSON: JSONDecodeError (ValueError)
            if type(data) is not dict:
                raise TypeError
        except (KeyError, TypeError, ValueError):  # anything odd: the careful way
            try:
                event = decode_fast(m.value(), headers, m.key())
            except DecodeError as exc:
                on_bad(m, exc)
                continue
            yield event
            continue
        event = new(cls)  # decode_fast's stores, without a call of __init__
        event.type, event.data, event.model_class, event._headers, event._key = (
            ce_type, data, model, headers, m.key())
        yield event


def decode_columns(values: list[Any], headers: list[Any]) -> tuple[
        list[dict[str, bytes | None]], list[str], list[dict[str, Any]]] | None:
    """A batch of records decoded into columns, no DecodedEvent made: (header dicts, ce_type
    texts, data dicts), what :func:`decode_fast` gives record by record. None if any record
    of the batch needs :func:`decode_fast` (a null value, no headers or a header name
    repeated, a missing or unknown ``ce_type``, a value that is not a JSON object)."""
    try:
        maps = [dict(h) for h in headers]
    except (TypeError, ValueError):
        return None
    if sum(map(len, maps)) != sum(map(len, headers)):  # a name repeated: first or last?
        return None
    try:
        types = [_TYPE_TEXT.get(h.get("ce_type")) for h in maps]  # type: ignore[arg-type]
    except TypeError:  # an unhashable header value
        return None
    if None in types:
        return None
    try:
        data = [orjson.loads(v) for v in values]
    except (orjson.JSONDecodeError, TypeError):
        return None
    if data and set(map(type, data)) != {dict}:
        return None
    return maps, types, data  # type: ignore[return-value]


__all__ = ["decode_columns", "decode_messages"]
