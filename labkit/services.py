"""Small event-driven services for the lessons: a subscriber that runs in the background.

>>> welcome = Service("welcome-email", "accounts", handler=send_welcome,
...                   types={"UserRegistered"}).start()
>>> welcome.wait_until_caught_up(30)
>>> welcome.stop()

Each service is a consumer in its own consumer group (its name), reading from ``earliest`` the
first time and from its committed offsets afterwards. Its handler gets decoded events
(:class:`labkit.codec.DecodedEvent`). The thread never prints: output from background threads
lands in the wrong notebook cell, so everything a lesson shows is kept in attributes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal

from labkit.cluster import resolve
from labkit.codec import DecodedEvent, decode_fast
from labkit.exceptions import DecodeError, ServiceError, UsageError
from labkit.kafka.groups import progress
from labkit.kafka.topics import partition_ids
from labkit.moments import announce
from labkit.validate import choice
from labkit.validate import name as check_name
from labkit.waiting import poll_until

if TYPE_CHECKING:
    from labkit.cluster import Cluster


class Service:
    """A subscriber: consume ``topic`` in group ``name``, call ``handler`` for each event of
    the wanted ``types`` (all when None), and commit as it goes."""

    def __init__(
        self,
        name: str,
        topic: str,
        handler: Callable[[DecodedEvent], Any] | None = None,
        *,
        types: Collection[str] | None = None,
        cluster: Cluster | None = None,
        start: Literal["earliest", "latest"] = "earliest",
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        check_name("service", name)
        check_name("topic", topic)
        choice("start", start, ("earliest", "latest"))
        if handler is not None and not callable(handler):
            raise UsageError(f"handler={handler!r} is not a function; pass one that takes an "
                             "event, or None")
        self.name, self.topic, self.handler = name, topic, handler
        self.types = set(types) if types is not None else None
        self._cluster = cluster
        self._start = start
        self._extra = dict(extra_config or {})
        self.handled = 0
        self.ignored = 0
        self.bad: list[str] = []  # events that could not be decoded (poison pills), why
        self.errors: list[str] = []  # consumer or handler failures: the service stopped
        self.warnings: list[str] = []  # passing client errors (retried by the client)
        self.positions: dict[int, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._pause_applied = threading.Event()  # the loop has paused its partitions

    @property
    def cluster(self) -> Cluster:
        self._cluster = resolve(self._cluster)
        return self._cluster

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Service:
        if self.running:
            return self
        from confluent_kafka import Consumer

        self.topic = self.cluster.name(self.topic)  # a class student's own
        partition_ids(self.cluster, self.topic)  # an unknown topic fails here, at once
        conf = self.cluster.config(group_id=self.name, auto_offset_reset=self._start,
                                   enable_auto_commit=True, auto_commit_interval_ms=200,
                                   # an offset is stored for commit only once it is handled
                                   enable_auto_offset_store=False,
                                   # a crashed kernel's member leaves the group within seconds
                                   session_timeout_ms=6000, heartbeat_interval_ms=1000)
        conf.update(self._extra)
        consumer = Consumer(conf)
        consumer.subscribe([self.topic])
        self._stop.clear()
        self._paused.clear()
        self._thread = threading.Thread(target=self._loop, args=(consumer,),
                                        name=f"service-{self.name}", daemon=True)
        self._thread.start()
        announce(f"{self.name} started")
        return self

    def _loop(self, consumer: Any) -> None:
        paused = False
        try:
            while not self._stop.is_set():
                # pausing stops fetching but keeps polling, so the member stays in its group;
                # re-applied every round, as a rebalance may hand over other partitions
                want = self._paused.is_set()
                if want:
                    consumer.pause(consumer.assignment())
                    self._pause_applied.set()  # what it fetched before is dropped, not handled
                elif paused:
                    consumer.resume(consumer.assignment())
                paused = want
                for msg in consumer.consume(500, timeout=0.2):
                    err = msg.error()
                    if err is not None:
                        if err.fatal():
                            raise RuntimeError(str(err))
                        self.warnings.append(str(err))  # e.g. a broker restarting: retried
                        continue
                    self._handle(msg)
                    consumer.store_offsets(msg)
                    self.positions[msg.partition()] = msg.offset() + 1
        except Exception as exc:  # surfaced through .errors and raise_for_errors()
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            consumer.close()  # commits the offsets of handled events and leaves the group

    def _handle(self, msg: Any) -> None:
        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        try:
            event = decode_fast(msg.value(), msg.headers(), msg.key(), where=where)
        except DecodeError as exc:
            self.bad.append(str(exc))
            return
        if self.types is not None and event.name not in self.types:
            self.ignored += 1
            return
        if self.handler is not None:
            self.handler(event)
        self.handled += 1

    def pause(self, timeout: float = 10.0) -> None:
        """Stop handling (the group keeps its members; the backlog builds up). Returns once
        the service's loop has paused its partitions: nothing produced after this returns
        is handled before :meth:`resume`."""
        self._pause_applied.clear()
        self._paused.set()
        if self.running and not self._pause_applied.wait(timeout):
            self.raise_for_errors()
            raise ServiceError(f"service {self.name!r} did not pause within {timeout:.0f}s")
        announce(f"{self.name} paused")

    def resume(self) -> None:
        self._paused.clear()
        announce(f"{self.name} resumed")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the thread; its offsets are committed as the consumer closes."""
        if self.running:
            announce(f"{self.name} stopped")
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise ServiceError(f"service {self.name!r} did not stop within {timeout:.0f}s")
        self._thread = None

    def _progress(self) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
        """(log ends, committed offsets, handled positions) per partition; a partition with
        nothing committed counts from the log start."""
        now = progress(self.cluster, self.name, self.topic)
        if any(pr.high_watermark is None or pr.position is None for pr in now.values()):
            raise ServiceError(f"a partition of {self.topic!r} has no leader right now; "
                               "try again in a moment")
        ends = {p: int(pr.high_watermark or 0) for p, pr in now.items()}
        commit = {p: int(pr.position or 0) for p, pr in now.items()}
        handled = {p: self.positions.get(p, commit[p]) for p in ends}
        return ends, commit, handled

    def lag(self) -> int:
        """Events in the topic this service has not handled yet."""
        ends, _commit, handled = self._progress()
        return sum(max(0, ends[p] - handled[p]) for p in ends)

    def committed_lag(self) -> int:
        """Events after the offsets the group has committed (what Kafka's tools show)."""
        ends, commit, _handled = self._progress()
        return sum(max(0, ends[p] - commit[p]) for p in ends)

    def wait_until_caught_up(self, timeout: float = 30.0) -> None:
        """Block until the service has handled and committed everything that was in the topic
        when called (events that arrive meanwhile may still be in flight); bounded. A
        partition briefly without a leader (a node restarting) is waited for too."""
        target: dict[int, int] = {}
        short: list[object] = []

        def caught_up() -> bool:
            self.raise_for_errors()
            if not self.running:
                raise ServiceError(f"service {self.name!r} is not running; start() it first")
            try:
                ends, commit, handled = self._progress()
            except ServiceError as exc:  # a partition without a leader for a moment
                short[:] = [exc]
                return False
            target.update(ends if not target else {})
            left = sum(max(0, end - handled[p]) + max(0, end - commit[p])
                       for p, end in target.items())
            short[:] = [f"{left} events short"]
            return left == 0

        poll_until(f"service {self.name!r} to catch up", caught_up, timeout=timeout,
                   retry_on=(), error=ServiceError, describe=lambda _no: short[0])

    def raise_for_errors(self) -> None:
        if self.errors:
            raise ServiceError(f"service {self.name!r} failed: {self.errors[0]}")

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<Service {self.name} on {self.topic}: {state}, handled {self.handled}, "
                f"ignored {self.ignored}, bad {len(self.bad)}>")
