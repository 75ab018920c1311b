"""Scenarios: seeded, deterministic generators of domain events, ready to produce to Kafka.

Same seed and settings -> byte-identical records: event ids come from a seeded RNG and times
from the simulated clock, which starts at ``start`` (default :data:`DEFAULT_START`).
"""

from __future__ import annotations

import inspect
import math
import random
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson

from labkit.codec import EncodedRecord, encode_fast
from labkit.events import Event
from labkit.exceptions import SettingsError
from labkit.scenarios.fast import CONTENT_HEADER, SPEC_HEADER, Clock, TypePlan, uuid4_ids

DEFAULT_START = datetime(2025, 1, 6, 11, 0, tzinfo=UTC)
"""Monday 6 January 2025, 11:00 UTC: the pizza shop opens."""

POISON_KINDS = ("not-json", "unknown-type", "missing-type", "bad-data")
"""Poison pills: a truncated value, an unknown ``ce_type``, no ``ce_type``, data that fails
the model. All are keyed like the real event they stand next to; ``decode`` rejects each,
``decode_fast`` all but ``bad-data`` (it does not validate the data)."""

UNKNOWN_TYPES = (b"pizza.order.teleported", b"pizza.unicorn.sighted", b"pizza.oven.exploded")

MAX_SKIPPED = 1_000_000
"""Give up when the world produces this many events in a row that the filter drops."""


class ScenarioEvent:
    """One generated record, with the event it encodes (None for a poison pill).

    ``event`` (the pydantic model) and ``time`` are made on first use: the fast path encodes
    plain dicts and validates nothing, so a million records cost no million models."""

    __slots__ = ("_event", "_src", "_time", "at", "kind", "poison", "record")
    # the fast path leaves _event and _time unset (AttributeError = not made yet) and sets
    # _src = (model, data, start) to make them from

    record: EncodedRecord
    kind: str
    """The stream of the event: ``accounts``, ``customers``, ``orders`` or ``emails``."""
    at: float
    """Simulated seconds since the scenario's start (for pacing a live producer)."""
    poison: str | None
    """None for a real event, else one of :data:`POISON_KINDS`."""
    _src: tuple[type[Event], dict[str, Any], datetime] | None

    def __init__(self, record: EncodedRecord, event: Event | None, kind: str, at: float,
                 time: datetime, poison: str | None = None) -> None:
        self.record, self._event, self.kind, self.at = record, event, kind, at
        self._time, self.poison, self._src = time, poison, None

    @property
    def event(self) -> Event | None:
        """The event as its pydantic model (validated on first use), None for a poison pill."""
        try:
            return self._event
        except AttributeError:
            assert self._src is not None
            model, data, _ = self._src
            self._event = None if self.poison else model.model_validate(data)
            return self._event

    @property
    def time(self) -> datetime:
        """The event's time on the simulated clock (``start + at``, in start's timezone)."""
        try:
            return self._time
        except AttributeError:
            assert self._src is not None
            self._time = self._src[2] + timedelta(seconds=self.at)
            return self._time

    @property
    def key(self) -> bytes:
        return self.record.key

    @property
    def value(self) -> bytes:
        return self.record.value

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return self.record.headers

    @property
    def type(self) -> str:
        """The CloudEvents type, or ``poison:<kind>``."""
        if self.poison is not None:
            return f"poison:{self.poison}"
        return _model_of(self).ce_type

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScenarioEvent):
            return NotImplemented
        return (self.record, self.kind, self.at, self.poison, self.time, self.event) == (
            other.record, other.kind, other.at, other.poison, other.time, other.event)

    __hash__ = None  # type: ignore[assignment]  # records hold lists

    def __repr__(self) -> str:
        return (f"ScenarioEvent(type={self.type!r}, key={self.key!r}, kind={self.kind!r}, "
                f"at={self.at!r})")


def _check_int(name: str, value: Any, lo: int, hi: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SettingsError(f"{name}={value!r} is not valid; use a whole number from {lo} to {hi}")


def _check_float(name: str, value: Any, lo: float, hi: float, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not lo <= value <= hi:
        raise SettingsError(f"{name}={value!r} is not valid; use a number from {lo} to {hi}")


class Scenario(ABC):
    """A seeded story generator; iterate it (or call :meth:`events`) to get its records.

    Settings (keyword-only):
      seed:            the RNG seed; same seed, same bytes
      customers:       how many customers sign up
      limit:           stop after this many records (poison included); None = no limit
      duration:        stop after this many simulated seconds; None = no limit
      start:           the simulated clock's start (timezone-aware)
      burst_every:     simulated seconds between rushes; None = no rushes
      burst_size:      extra orders (or the scenario's unit of work) in each rush
      poison_fraction: fraction of records that are poison pills (0 to 0.5)
    """

    name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        seed: int = 42,
        customers: int = 50,
        limit: int | None = 1000,
        duration: float | None = None,
        start: datetime = DEFAULT_START,
        burst_every: float | None = None,
        burst_size: int = 20,
        poison_fraction: float = 0.0,
    ) -> None:
        _check_int("seed", seed, 0, 2**63 - 1)
        _check_int("customers", customers, 1, 10_000_000)
        _check_int("limit", limit, 0, 10**12, optional=True)
        _check_float("duration", duration, 0.001, 1e9, optional=True)
        _check_float("burst_every", burst_every, 0.001, 1e9, optional=True)
        _check_int("burst_size", burst_size, 1, 1_000_000)
        _check_float("poison_fraction", poison_fraction, 0.0, 0.5)
        if not isinstance(start, datetime) or start.tzinfo is None:
            raise SettingsError(f"start={start!r} is not valid; use a timezone-aware datetime")
        self.seed = seed
        self.customers = customers
        self.limit = limit
        self.duration = duration
        self.start = start
        self.burst_every = burst_every
        self.burst_size = burst_size
        self.poison_fraction = float(poison_fraction)

    @abstractmethod
    def _world(self) -> Iterator[tuple[float, Event]]:
        """Every event of the simulated world as (seconds since start, event), in time order."""

    def _fast_world(self) -> Iterator[tuple[float, type[Event], dict[str, Any]]] | None:
        """The same world as (seconds since start rounded to ms, model, data), where data is
        the model's JSON as a plain dict (fields in the model's order, datetimes as the text
        pydantic writes); None if the scenario has no fast path."""
        return None

    def _wanted(self, event: Event) -> bool:
        """Whether an event of the world is part of this scenario's output."""
        return self._wanted_type(type(event))

    def _wanted_type(self, model: type[Event]) -> bool:
        """Whether events of this model are part of this scenario's output."""
        return True

    def settings(self) -> dict[str, Any]:
        """The settings, as keywords that rebuild an identical scenario."""
        return {n: getattr(self, n) for n in setting_names(type(self))}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({shown})"

    def __iter__(self) -> Iterator[ScenarioEvent]:
        return self.events()

    def records(self) -> Iterator[EncodedRecord]:
        """Just the records (key, value, headers), poison pills included (what a producer
        sends; no ScenarioEvent made on the fast path)."""
        if self.limit == 0:
            return iter(())
        fast = self._fast_world()
        if fast is None:
            return (e.record for e in self._model_events())
        return self._fast_events(fast, bare=True)

    def events(self, *, check: bool = False) -> Iterator[ScenarioEvent]:
        """Generate the records, from the start each time it is called.

        ``check=True`` takes the model path: every event is a validated pydantic model,
        encoded by ``codec.encode_fast`` (5-10x slower; the same bytes, which tests check)."""
        if self.limit == 0:
            return iter(())
        fast = None if check else self._fast_world()
        return self._model_events() if fast is None else self._fast_events(fast)

    def _skipped(self, skipped: int) -> int:
        if skipped + 1 >= MAX_SKIPPED:
            raise SettingsError(f"{self!r} made {MAX_SKIPPED} events in a row that its filter "
                                "drops; check its kinds and rates")
        return skipped + 1

    def _model_events(self) -> Iterator[ScenarioEvent]:
        ids = random.Random(f"{self.seed}:ids")
        poison = random.Random(f"{self.seed}:poison")
        emitted = skipped = 0
        for at, event in self._world():
            event_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
            if self.duration is not None and at > self.duration:
                return
            if not self._wanted(event):
                skipped = self._skipped(skipped)
                continue
            skipped = 0
            time = self.start + timedelta(seconds=at)
            real = ScenarioEvent(
                encode_fast(event, time=time, id=event_id), event, event.kind, at, time
            )
            while self.poison_fraction and poison.random() < self.poison_fraction:
                yield _poison_pill(real, poison)
                emitted += 1
                if emitted == self.limit:
                    return
            yield real
            emitted += 1
            if emitted == self.limit:
                return

    def _fast_events(self, world: Iterator[tuple[float, type[Event], dict[str, Any]]], *,
                     bare: bool = False) -> Iterator[Any]:
        """The hot loop of :meth:`events`: the same records as :meth:`_model_events`, as
        ScenarioEvents, or with ``bare`` as just the EncodedRecords (what a producer sends)."""
        next_id = uuid4_ids(random.Random(f"{self.seed}:ids").getrandbits).__next__
        poison = random.Random(f"{self.seed}:poison")
        chance = poison.random
        fraction, start = self.poison_fraction, self.start
        end = math.inf if self.duration is None else self.duration
        just_records = bare and not fraction
        limit = -1 if self.limit is None else self.limit
        plans: dict[type[Event], TypePlan | None] = {}
        clock = Clock(start).text
        dumps, new_record, new_event = orjson.dumps, tuple.__new__, ScenarioEvent.__new__
        spec, content = SPEC_HEADER, CONTENT_HEADER
        emitted = skipped = 0
        for at, cls, data in world:
            event_id = next_id()
            if at > end:
                return
            try:
                plan = plans[cls]
            except KeyError:
                plan = plans[cls] = TypePlan(cls) if self._wanted_type(cls) else None
            if plan is None:
                skipped += 1
                if skipped >= MAX_SKIPPED:
                    self._skipped(skipped - 1)  # raises
                continue
            skipped = 0
            key = data[plan.key_field].encode()
            record = new_record(EncodedRecord, (key, dumps(data), [
                spec, plan.type, plan.source, ("ce_id", event_id), ("ce_time", clock(at)),
                ("ce_subject", key), content]))
            if just_records:
                yield record
                emitted += 1
                if emitted == limit:
                    return
                continue
            real = new_event(ScenarioEvent)
            real.record, real.kind, real.at, real.poison, real._src = (
                record, plan.kind, at, None, (cls, data, start))
            while fraction and chance() < fraction:
                pill = _poison_pill(real, poison)
                yield pill.record if bare else pill
                emitted += 1
                if emitted == limit:
                    return
            yield record if bare else real
            emitted += 1
            if emitted == limit:
                return


def _poison_pill(real: ScenarioEvent, rng: random.Random) -> ScenarioEvent:
    """A malformed record keyed and timed like ``real``."""
    reason = rng.choice(POISON_KINDS)
    pill_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
    headers = [(n, pill_id if n == "ce_id" else v) for n, v in real.headers]
    value = real.value
    if reason == "not-json":
        value = value[: max(1, len(value) // 2)]
    elif reason == "unknown-type":
        unknown = rng.choice(UNKNOWN_TYPES)
        headers = [(n, unknown if n == "ce_type" else v) for n, v in headers]
    elif reason == "missing-type":
        headers = [(n, v) for n, v in headers if n != "ce_type"]
    else:  # bad-data: the key field is null, which no model accepts
        data = orjson.loads(value)
        data[_model_of(real).key_field] = None
        value = orjson.dumps(data)
    record = EncodedRecord(key=real.key, value=value, headers=headers)
    pill = ScenarioEvent(record, None, real.kind, real.at, real.time, reason)
    pill._src = real._src
    return pill


def _model_of(real: ScenarioEvent) -> type[Event]:
    if real._src is not None:
        return real._src[0]
    assert real._event is not None
    return type(real._event)


# -- registry ----------------------------------------------------------------------------------

_REGISTRY: dict[str, tuple[type[Scenario], dict[str, Any], str]] = {}


def setting_names(cls: type[Scenario]) -> list[str]:
    """The keyword settings a scenario class accepts."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or not issubclass(klass, Scenario):
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in names:
                names.append(p.name)
    return names


def register_scenario(
    name: str, cls: type[Scenario], *, description: str = "", **preset: Any
) -> None:
    """Make ``get_scenario(name)`` build ``cls(**preset, **settings)``."""
    _REGISTRY[name] = (cls, preset, description)


def scenario_names() -> dict[str, str]:
    """Known scenario names -> one-line descriptions."""
    return {name: description for name, (_, _, description) in _REGISTRY.items()}


def get_scenario(name: str, **settings: Any) -> Scenario:
    """Build a registered scenario, e.g. ``get_scenario("pizza", seed=7, limit=500)``."""
    if name not in _REGISTRY:
        raise SettingsError(f"unknown scenario {name!r}; known: {', '.join(_REGISTRY)}")
    cls, preset, _ = _REGISTRY[name]
    known = setting_names(cls)
    unknown = [k for k in settings if k not in known]
    if unknown:
        raise SettingsError(
            f"scenario {name!r} has no setting {', '.join(unknown)}; known: {', '.join(known)}"
        )
    fixed = [k for k in settings if k in preset]
    if fixed:
        raise SettingsError(
            f"scenario {name!r} fixes {', '.join(fixed)}; use another scenario to change it"
        )
    return cls(**preset, **settings)
