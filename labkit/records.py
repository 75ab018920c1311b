"""What a scripted producer can send: scenarios, events, encoded records or tuples, turned
into records; and the one-line hint for a record the cluster refused."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from labkit.codec import EncodedRecord, encode_fast
from labkit.events import Event
from labkit.exceptions import UsageError
from labkit.scenarios import Scenario, ScenarioEvent, get_scenario

__all__ = ["as_record", "delivery_hint", "first_ready", "source"]


def as_record(item: Any) -> EncodedRecord:
    """Any supported item -> EncodedRecord (ScenarioEvent, EncodedRecord, Event, tuple)."""
    if isinstance(item, ScenarioEvent):
        return item.record
    if isinstance(item, EncodedRecord):
        return item
    if isinstance(item, Event):
        return encode_fast(item)
    if isinstance(item, tuple) and len(item) in (2, 3):
        return EncodedRecord(item[0], item[1], list(item[2]) if len(item) == 3 else [])
    raise UsageError(
        f"cannot produce a {type(item).__name__}; give a scenario, ScenarioEvents, "
        "EncodedRecords, labkit.events models or (key, value[, headers]) tuples"
    )


def source(scenario: Any) -> Iterable[Any]:
    if isinstance(scenario, str):
        return get_scenario(scenario, limit=None)
    if isinstance(scenario, Scenario | Iterable):
        return scenario
    raise UsageError(
        f"scenario={scenario!r} is not a scenario name, a Scenario or an iterable of records"
    )


def first_ready(it: Iterator[Any]) -> Iterator[Any]:
    """The same items, the first one made already: a rate's schedule starts once the source
    is warm (a scenario's first record sets up its tables), not with a burst to catch up."""
    for first in it:
        return itertools.chain((first,), it)
    return it


def delivery_hint(code: str, size: int | None) -> str:
    if code == "MSG_SIZE_TOO_LARGE":
        shown = f" ({size} bytes with key and headers)" if size is not None else ""
        return (f"the record{shown} is over the topic's max.message.bytes: raise it "
                "(kafka-configs --alter) or send smaller events")
    if code in ("NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND"):
        return "fewer in-sync replicas than min.insync.replicas: start the stopped nodes"
    if code in ("_MSG_TIMED_OUT", "_PURGE_QUEUE", "_PURGE_INFLIGHT"):
        return "not delivered in time: is the cluster up ('labkit status')?"
    return "see the broker's error above"
