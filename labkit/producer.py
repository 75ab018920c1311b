"""Scripted producers: send a scenario's events to a topic in the background, at a set rate.

>>> with labkit.produce("pizza-orders", "orders", rate=50, seconds=settings.scaled(10)) as p:
...     p.wait(timeout=60)
>>> p.sent, p.acked, p.failed

``seconds`` is real (wall-clock) seconds; notebooks pass ``settings.scaled(x)`` to shorten
their demos in CI. The producer is idempotent (``enable.idempotence=true``, ``acks=all``).
Deliveries are counted without a Python callback per record (librdkafka reports only the
failures, ``delivery.report.only.error=true``): ``acked`` = sent - failed - still in flight.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.codec import EncodedRecord
from labkit.exceptions import ProduceError, StateError, UsageError
from labkit.kafka import errors as kafka_errors
from labkit.kafka.clients import QUIET
from labkit.kafka.topics import partition_ids
from labkit.records import as_record as _as_record
from labkit.records import delivery_hint as _hint
from labkit.records import first_ready as _first_ready
from labkit.records import source as _source
from labkit.scenarios import Scenario, ScenarioEvent
from labkit.validate import name, positive
from labkit.waiting import Deadline, poll_until

if TYPE_CHECKING:
    from labkit.cluster import Cluster

MAX_ERRORS = 1000
"""Error lines kept on a handle (``failed`` counts them all)."""

FLUSH_TIMEOUT = 30.0
"""Seconds ``stop()`` waits for records in flight before purging them (counted as failed)."""

_CHUNK = 2048  # records sent between checks of stop/pause/deadline at full speed
_FULL_WAIT = 0.002  # seconds between tries while librdkafka's queue is full

GIVE_UP = 50
"""A producer stops by itself once this many records failed in a row, with no record
acknowledged meanwhile: every record is failing (e.g. the topic was deleted, or each record is
too large for it), so sending more only makes noise."""

class ProducerHandle:
    """A producer running in a background thread; see :func:`produce`."""

    def __init__(self, source: Iterable[Any], topic: str, *, rate: float | None,
                 seconds: float | None, limit: int | None, cluster: Cluster | None,
                 extra_config: dict[str, Any] | None, progress: bool,
                 total: int | None = None) -> None:
        from confluent_kafka import KafkaException, Producer

        positive("rate", rate, optional=True)
        positive("seconds", seconds, optional=True)
        positive("limit", limit, whole=True, optional=True)
        conn = resolve(cluster)
        self.topic = topic = conn.name(name("topic", topic))  # a class student's own
        partition_ids(conn, topic)  # an unknown topic fails here, before anything is sent
        self.limit = limit
        self.seconds = seconds
        self.config: dict[str, Any] = {
            "enable.idempotence": True, "acks": "all", "linger.ms": 5,
            "message.timeout.ms": 60_000, "delivery.report.only.error": True,
            **(extra_config or {})}
        conf = conn.config(**self.config, on_delivery=self._on_delivery,
                           error_cb=self._on_error, **QUIET)
        try:
            self._producer: Producer | None = Producer(conf)  # None once finished
        except KafkaException as exc:
            raise UsageError(f"bad producer config: {kafka_errors.describe(exc)}; check "
                             "extra_config against librdkafka's CONFIGURATION.md") from None
        self._rate = rate
        self._rate_changed = True
        self._stop = False
        self._paused = False
        self._done = threading.Event()
        self._sent = self._failed = self._bytes = self._acked = 0
        self.errors: list[str] = []
        self.exception: BaseException | None = None
        self.gave_up = False
        """True if it stopped by itself because every record failed (see GIVE_UP)."""
        self._acked_seen = self._failed_before = 0
        self._progress = progress
        self._total = total if total is not None else limit
        self._started = time.monotonic()
        self._ended: float | None = None
        # a scenario sends its bare records: no ScenarioEvent made per record
        self._iter = iter(source.records() if isinstance(source, Scenario) else source)
        self._thread = threading.Thread(target=self._run, name=f"labkit-produce-{topic}",
                                        daemon=True)
        self._thread.start()

    # -- counters ----------------------------------------------------------------------------
    @property
    def sent(self) -> int:
        """Records handed to the producer (delivered, failed or still in flight)."""
        return self._sent

    @property
    def failed(self) -> int:
        """Records the broker or the client rejected; each has a line in ``errors``."""
        return self._failed

    @property
    def acked(self) -> int:
        """Records the cluster acknowledged (acks=all); exact once the producer has stopped."""
        producer = self._producer  # None once finished (the final count is then in _acked)
        if self._done.is_set() or producer is None:
            return self._acked
        in_flight = len(producer)
        self._acked = max(self._acked, min(self._sent - self._failed - in_flight,
                                           self._sent - self._failed))
        return self._acked

    @property
    def bytes(self) -> int:
        """Key and value bytes of the records sent (headers not counted)."""
        return self._bytes

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def elapsed(self) -> float:
        """Seconds since the start (until the end once stopped)."""
        return (self._ended or time.monotonic()) - self._started

    @property
    def rate(self) -> float | None:
        """Target events per second (None = full speed); settable while running."""
        return self._rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        positive("rate", value, optional=True)
        self._running_or_say("change its rate")
        self._rate = value
        self._rate_changed = True

    # -- control -----------------------------------------------------------------------------
    def _running_or_say(self, what: str) -> None:
        if self._done.is_set():
            raise StateError(f"the producer to {self.topic!r} has stopped, so it cannot "
                             f"{what}; start a new one with labkit.produce(...)")

    def pause(self) -> None:
        """Stop sending new records (deliveries still complete) until :meth:`resume`."""
        self._running_or_say("pause")
        self._paused = True
        from labkit.moments import announce  # running charts mark it
        announce("producer paused")

    def resume(self) -> None:
        self._running_or_say("resume")
        self._rate_changed = True
        self._paused = False
        from labkit.moments import announce  # running charts mark it
        announce("producer resumed")

    def stop(self, timeout: float = FLUSH_TIMEOUT + 10) -> ProducerHandle:
        """Stop sending, wait (bounded) for the records in flight, return the handle."""
        self._stop = True
        self._paused = False
        from labkit.moments import announce  # running charts mark it
        if self.running:  # a producer that already finished is not marked again
            announce("producer stopped")
        if not self._done.wait(timeout):
            raise ProduceError(f"the producer to {self.topic!r} did not stop within "
                               f"{timeout:.0f}s; {self.summary()}")
        return self

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until the producer has finished (limit, seconds or the source ran out, every
        record failing, or :meth:`stop`); True if it has, False if ``timeout`` seconds passed
        first. Failures are never silent: once finished, if any record failed (or the source
        raised), this raises :class:`ProduceError` with the first error and the counts; the
        counters and ``errors`` stay readable on the handle."""
        if not self._done.wait(timeout):
            return False
        self.raise_for_errors()
        return True

    def raise_for_errors(self) -> None:
        """Raise :class:`ProduceError` if any record failed (or the producer crashed)."""
        if self.errors:
            more = f" (and {self._failed - 1} more)" if self._failed > 1 else ""
            why = (f"; it stopped by itself after {GIVE_UP} failures in a row"
                   if self.gave_up else "")
            raise ProduceError(self.errors[0] + more + why)

    def summary(self) -> str:
        rate = self._sent / self.elapsed if self.elapsed > 0 else 0.0
        return (f"topic {self.topic!r}: sent {self._sent}, acked {self.acked}, "
                f"failed {self._failed} in {self.elapsed:.1f} s ({rate:,.0f} events/s)")

    def __enter__(self) -> ProducerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ProducerHandle {state} {self.summary()}>"

    # -- the producer thread -----------------------------------------------------------------
    def _error(self, line: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(line)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:  # only with delivery.report.only.error=false in extra_config
            return
        self._failed += 1
        value = msg.value()
        size = None if value is None else len(value) + len(msg.key() or b"") + sum(
            len(n) + len(v or b"") for n, v in msg.headers() or [])
        self._error(f"topic {msg.topic()!r} partition {msg.partition()}: {err.name()}: "
                    f"{err.str()}; {_hint(err.name(), size)}")

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self._error(f"topic {self.topic!r}: fatal producer error {err.name()}: {err.str()}")

    def _run(self) -> None:
        bar = None
        try:
            bar = self._make_bar()
            self._iter = _first_ready(self._iter)
            self._loop(bar)
        except BaseException as exc:  # surfaced through errors/raise_for_errors, never lost
            self.exception = exc
            self.errors.insert(0, f"topic {self.topic!r}: producing stopped: "
                                  f"{type(exc).__name__}: {exc}")
        finally:
            self._finish(bar)

    def _make_bar(self) -> Any:
        if not self._progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=self._total, unit=" events", desc=self.topic, mininterval=0.5)

    def _loop(self, bar: Any) -> None:
        from confluent_kafka import KafkaException

        p = self._producer
        if p is None:  # already finished: nothing left to send with
            return
        produce, poll, topic = p.produce, p.poll, self.topic
        it: Iterator[Any] = self._iter
        if self.limit is not None:
            it = itertools.islice(it, self.limit)
        deadline = None if self.seconds is None else self._started + self.seconds
        anchor, anchored = time.monotonic(), 0
        exhausted = False
        while not (self._stop or exhausted):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if self._paused:
                poll(0.05)
                continue
            rate = self._rate
            if self._rate_changed:
                self._rate_changed = False
                anchor, anchored = now, 0
            if rate is None:
                n = _CHUNK
            else:  # schedule by monotonic time: record k is due at anchor + k / rate
                n = int((now - anchor) * rate) + 1 - anchored
                if n <= 0:
                    wait = anchor + anchored / rate - now
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    poll(max(0.0, min(wait, 0.05)))
                    continue
                n = min(n, _CHUNK)
            sent = nbytes = 0
            stopped = False
            try:  # the counters stay right if the source raises mid-chunk
                for item in itertools.islice(it, n):
                    rec = item.record if type(item) is ScenarioEvent else item
                    if type(rec) is not EncodedRecord:
                        rec = _as_record(rec)
                    value, key = rec.value, rec.key
                    try:
                        # the stub wants list[tuple[str, str | bytes | None]] (invariant)
                        produce(topic, value, key, headers=rec.headers)  # type: ignore[arg-type]
                    except BufferError:  # queue full: the slow path serves deliveries and retries
                        if not self._retry(rec):
                            stopped = True  # stopped while the queue was full: not handed over
                            break
                    except KafkaException as exc:
                        self._rejected(exc, rec)
                    sent += 1
                    nbytes += len(value or b"") + len(key or b"")
            finally:
                self._sent += sent
                self._bytes += nbytes
                anchored += sent
            if sent < n and not stopped:
                exhausted = True
            poll(0)
            if self._failing_for_good():
                self.gave_up = True  # every record fails: stop instead of sending more
                break
            if bar is not None:
                bar.update(sent)

    def _failing_for_good(self) -> bool:
        """GIVE_UP failures since the last time a record was acknowledged."""
        acked = self.acked
        if acked > self._acked_seen:
            self._acked_seen, self._failed_before = acked, self._failed
        return self._failed - self._failed_before >= GIVE_UP

    def _retry(self, rec: EncodedRecord) -> bool:
        from confluent_kafka import KafkaException

        p = self._producer
        if p is None:  # already finished: the record cannot be handed over
            return False
        while True:
            # short: with delivery.report.only.error there is no delivery event to wake a
            # longer poll, so it would sleep its whole timeout while the queue drains
            p.poll(_FULL_WAIT)
            try:
                # the stub wants list[tuple[str, str | bytes | None]] (invariant)
                p.produce(self.topic, rec.value, rec.key, headers=rec.headers)  # type: ignore[arg-type]
                return True
            except BufferError:
                if self._stop:
                    return False
            except KafkaException as exc:
                self._rejected(exc, rec)
                return True

    def _rejected(self, exc: Any, rec: EncodedRecord) -> None:
        err = exc.args[0]
        self._failed += 1
        size = len(rec.value or b"") + len(rec.key or b"") + sum(
            len(n) + len(v or b"") for n, v in rec.headers or [])
        self._error(f"topic {self.topic!r}: {err.name()}: {err.str()}; "
                    f"{_hint(err.name(), size)}")

    def _finish(self, bar: Any) -> None:
        p = self._producer
        if p is None:  # finished already (this sets it to None last)
            return
        try:
            left = p.flush(FLUSH_TIMEOUT)
            if left:
                p.purge()
                p.flush(5)
                left = len(p)
                if left:  # nothing silently dropped: count what could not even be purged
                    self._failed += left
                    self._error(f"topic {self.topic!r}: {left} record(s) still in flight "
                                "after the flush timeout; is the cluster up?")
        finally:
            self._acked = max(0, self._sent - self._failed)
            self._ended = time.monotonic()
            if bar is not None:
                bar.close()
            self._producer = None  # no handle <-> producer cycle: destroyed here, by refcount
            self._done.set()


def produce(
    scenario: Scenario | str | Iterable[Any],
    topic: str,
    *,
    rate: float | None = None,
    seconds: float | None = None,
    limit: int | None = None,
    cluster: Cluster | None = None,
    extra_config: dict[str, Any] | None = None,
    progress: bool = False,
) -> ProducerHandle:
    """Start producing ``scenario`` to ``topic`` in a background thread; returns at once.

    ``scenario``: a name (``get_scenario(name, limit=None)``), a Scenario, or any iterable of
    ScenarioEvents, EncodedRecords, event models or (key, value[, headers]) tuples.
    ``rate``: events per second (None = full speed); ``seconds``: real seconds to run
    (pass ``Settings.from_env().scaled(x)`` for a demo that CI shortens); ``limit``: records.
    ``extra_config`` is passed to the confluent-kafka Producer as is.
    """
    return ProducerHandle(_source(scenario), topic, rate=rate, seconds=seconds, limit=limit,
                          cluster=cluster, extra_config=extra_config, progress=progress)


def produce_all(
    scenario_or_records: Scenario | str | Iterable[Any],
    topic: str,
    *,
    limit: int | None = None,
    progress: bool = True,
    cluster: Cluster | None = None,
    extra_config: dict[str, Any] | None = None,
    timeout: float = 600.0,
) -> ProducerHandle:
    """Produce everything at full speed and wait; raise :class:`ProduceError` on failures.

    A progress bar shows when ``progress`` and the volume is large (10,000 or unknown).
    A scenario given by name needs ``limit``.
    """
    source = _source(scenario_or_records)
    if isinstance(scenario_or_records, str) and limit is None:
        raise UsageError(f"produce_all({scenario_or_records!r}) needs limit=N: "
                            "a scenario by name never ends")
    total = limit
    if total is None and isinstance(source, Scenario):
        total = source.limit
    elif total is None and isinstance(source, Sized):
        total = len(source)
    show = progress and (total is None or total >= 10_000)
    handle = ProducerHandle(source, topic, rate=None, seconds=None, limit=limit,
                            cluster=cluster, extra_config=extra_config,
                            progress=bool(show), total=total)
    deadline = Deadline(timeout)
    try:  # waited for in steps of a second, so Ctrl-C stops it
        poll_until(f"producing to {topic!r} to finish", lambda: handle.wait(
            min(1.0, deadline.left)), timeout=timeout, interval=0, retry_on=(),
            error=ProduceError, describe=lambda _no: handle.summary(),
            hint="pass a larger timeout=")
    except (ProduceError, KeyboardInterrupt):
        handle.stop()
        raise
    handle.raise_for_errors()
    return handle


__all__ = ["ProduceError", "ProducerHandle", "produce", "produce_all"]
