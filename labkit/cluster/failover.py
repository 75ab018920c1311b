"""Failures on purpose (lesson 06): kill or stop a partition's leader and time the election,
freeze nodes for a moment, find a group's coordinator and the controller quorum's leader,
and put everything back: every node running, every in-sync replica set complete, every
partition led by its preferred replica (:func:`restore`).

Each helper that breaks something mends it in ``finally`` when it fails midway, so a lesson
cell that raises never leaves the cluster half broken for the next one. Group coordinators
are only ever asked through :func:`labkit.kafka.describe_group` (a fresh client per request)
and committed offsets through a consumer of the group: never
``AdminClient.list_consumer_group_offsets``, which crashes the process when the coordinator
moves (see :mod:`labkit.kafka.clients`).

>>> out = failover.outage(cluster, "orders", 0, "kill")    # SIGKILL its leader
>>> out.node, out.new_leader, out.elected_after             # (2, 3, 8.4)
>>> failover.restore(cluster)                                # all up, leaders preferred
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.cluster.state import signal_group
from labkit.exceptions import NotFoundError, NotSupportedError, UsageError
from labkit.kafka import errors
from labkit.kafka.groups import describe as describe_group
from labkit.kafka.topics import delete_topics, describe, metadata
from labkit.moments import announce
from labkit.waiting import poll_until

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["Background", "Outage", "coordinator", "elect_preferred", "fresh_topic_led_by",
           "frozen", "group_coordinated_by", "isr_complete", "leaders", "off_preferred",
           "offsets_partition", "outage", "parse_quorum", "restore", "unchanged_for",
           "wait_isr_complete"]


# -- what the metadata says -----------------------------------------------------------------
def leaders(cluster: Cluster, topic: str) -> dict[int, int]:
    """``{partition: leader}`` of ``topic`` (-1 while a partition has none, or while the
    metadata lists the topic with an error, as it may for a moment during an election)."""
    t = metadata(cluster, timeout=5).topics.get(topic)
    if t is None:  # created a moment ago, the broker that answered may not list it yet:
        t = describe(cluster, topic)  # waits a moment for it (else UnknownTopicError)
    return {p: -1 if t.error is not None else int(m.leader)
            for p, m in sorted(t.partitions.items())}


def _partitions(cluster: Cluster, topics: Iterable[str] | None) -> list[tuple[str, int, Any]]:
    """(topic, partition, metadata) of ``topics`` (None: every topic, Kafka's own too)."""
    md = metadata(cluster, timeout=5).topics
    names = sorted(md) if topics is None else list(topics)
    return [(t, p, m) for t in names if t in md and md[t].error is None
            for p, m in sorted(md[t].partitions.items())]


def off_preferred(cluster: Cluster, topics: Iterable[str] | None = None) -> list[str]:
    """``topic-partition`` of every partition not led by its preferred replica (the first
    of its replica list); None: every topic, Kafka's own too."""
    return [f"{t}-{p}" for t, p, m in _partitions(cluster, topics)
            if not m.replicas or m.leader != m.replicas[0]]


def isr_complete(cluster: Cluster, topics: Iterable[str] | None = None) -> bool:
    """Every replica of every partition of ``topics`` (None: all) is in sync."""
    return all(sorted(m.isrs) == sorted(m.replicas) for _t, _p, m in _partitions(cluster, topics))


def wait_isr_complete(cluster: Cluster, topics: Iterable[str] | None = None, *,
                      timeout: float = 60.0) -> None:
    """Wait until every replica of ``topics`` (None: all) is back in sync."""
    names = None if topics is None else list(topics)
    poll_until("every replica to be back in sync", lambda: isr_complete(cluster, names),
               timeout=timeout, interval=0.2,
               hint="a restarted node copies what it missed first; 'labkit status' shows it")


def elect_preferred(cluster: Cluster, topics: Iterable[str] | None = None, *,
                    timeout: float = 60.0) -> list[str]:
    """A preferred-leader election: give each partition of ``topics`` (None: every topic,
    Kafka's own too, so group coordinators move back as well) back to its preferred replica.
    Asked again while a preferred replica is not in sync yet. Returns the partitions that
    were elsewhere before."""
    from confluent_kafka import ElectionType, TopicPartition

    names = None if topics is None else list(topics)
    moved = off_preferred(cluster, names)
    if not moved:
        return []
    last: list[str] = []

    def elected() -> bool:
        todo = off_preferred(cluster, names)
        if not todo:
            return True
        wanted = [TopicPartition(tp.rsplit("-", 1)[0], int(tp.rsplit("-", 1)[1])) for tp in todo]
        # (no request_timeout: confluent-kafka 2.16 fails on it with a SystemError)
        answers = cluster.admin().elect_leaders(ElectionType.PREFERRED, wanted).result(
            timeout=30)
        last[:] = [f"{tp.topic}-{tp.partition}: {errors.describe(err)}"
                   for tp, err in answers.items()
                   if err is not None and not errors.has(err, "ELECTION_NOT_NEEDED")][:1]
        return False

    poll_until("every partition to be led by its preferred replica", elected, timeout=timeout,
               interval=0.3, describe=lambda _no: last[0] if last else None,
               hint="a preferred replica must be back in sync first")
    return moved


def restore(cluster: Cluster, *, timeout: float = 120.0) -> None:
    """Put the cluster back as a lesson expects it: no node frozen, every node running,
    every replica in sync, every partition led by its preferred replica. On a cluster labkit
    does not run (a class's), only waits until every replica it can see is in sync."""
    if not cluster.controls_nodes:
        wait_isr_complete(cluster, timeout=timeout)
        return
    for n in cluster.nodes:
        if n.pid and n.alive:
            signal_group(n.pid, signal.SIGCONT)  # harmless unless a freeze was left behind
    for n in cluster.nodes:
        if not n.alive:
            cluster.start_node(n.id)
    wait_isr_complete(cluster, timeout=timeout)
    elect_preferred(cluster, timeout=timeout)


# -- breaking things ------------------------------------------------------------------------
@dataclass(frozen=True)
class Outage:
    """One node taken down on purpose: ``how`` ("kill": SIGKILL, "stop": SIGTERM), when its
    partition got another leader and when its process was gone, in seconds from the signal."""

    node: int
    how: str
    new_leader: int
    elected_after: float
    exited_after: float


def outage(cluster: Cluster, topic: str, partition: int = 0, how: str = "kill", *,
           timeout: float = 60.0) -> Outage:
    """Take down the leader of ``topic``/``partition``: ``how="kill"`` (SIGKILL, a crash) or
    ``"stop"`` (SIGTERM, a controlled shutdown), and wait until the metadata shows another
    leader. The node stays down (``cluster.start_node`` brings it back) unless this fails
    midway: then it is started again before the error propagates."""
    if how not in ("kill", "stop"):
        raise UsageError(f"how={how!r}: give 'kill' (SIGKILL) or 'stop' (SIGTERM)")
    old = leaders(cluster, topic)[partition]
    if old < 0:
        raise NotFoundError(f"{topic}-{partition} has no leader to take down right now")
    start = time.monotonic()
    exited: list[float] = []

    def take_down() -> None:
        (cluster.kill_node if how == "kill" else cluster.stop_node)(old)
        exited.append(time.monotonic() - start)

    worker = threading.Thread(target=take_down, name="labkit-outage", daemon=True)
    try:
        worker.start()  # a stop blocks until the process exits; the leader moves before
        new = poll_until(f"a new leader of {topic}-{partition} after node {old} went down",
                         lambda: _moved(cluster, topic, partition, old), timeout=timeout,
                         interval=0.05)
        elected = time.monotonic() - start
        worker.join(timeout)
        if not exited:
            raise NotSupportedError(f"node {old} did not go down within {timeout:g} s")
    except BaseException:
        worker.join(timeout)
        cluster.start_node(old)
        raise
    return Outage(old, how, int(new), round(elected, 2), round(exited[0], 2))


def _moved(cluster: Cluster, topic: str, partition: int, old: int) -> int:
    """The new leader (0 means "not yet"; node ids start at 1)."""
    now = leaders(cluster, topic).get(partition, -1)
    return now if now not in (-1, old) else 0


@contextlib.contextmanager
def frozen(cluster: Cluster, nodes: Iterable[int]) -> Iterator[None]:
    """Freeze ``nodes`` (SIGSTOP: the processes stay, but do nothing at all, as in a long
    garbage-collection pause or a stalled disk) for the ``with`` block, then let them go on
    (SIGCONT), whatever happens inside. Local backend only."""
    ids = sorted(set(nodes))
    if not cluster.controls_nodes or cluster.backend != "local":
        raise NotSupportedError(f"the {cluster.backend} backend cannot freeze nodes")
    pids = {n.id: n.pid for n in cluster.nodes if n.id in ids and n.alive and n.pid}
    if sorted(pids) != ids:
        raise NotFoundError(f"nodes {ids} are not all running; running: "
                            f"{sorted(n.id for n in cluster.nodes if n.alive)}")
    names = ", ".join(map(str, ids))
    announce(f"node{'s' if len(ids) > 1 else ''} {names} frozen")
    try:
        for pid in pids.values():
            signal_group(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids.values():
            signal_group(pid, signal.SIGCONT)
        announce(f"node{'s' if len(ids) > 1 else ''} {names} resumed")


def fresh_topic_led_by(cluster: Cluster, name: str, leader: int, *, timeout: float = 30.0,
                       **config: Any) -> str:
    """(Re)create ``name`` empty with one partition whose preferred leader is ``leader``
    and whose followers are the other nodes (replica assignment), settings as keywords
    (``min_insync_replicas=3``); wait until ``leader`` leads it."""
    from confluent_kafka.admin import NewTopic

    nodes = sorted(n.id for n in cluster.nodes)
    if leader not in nodes:
        raise NotFoundError(f"there is no node {leader}; nodes are {nodes}")
    conf = {k.replace("_", "."): str(v) for k, v in config.items()}
    if name in metadata(cluster, timeout=5).topics:
        delete_topics(cluster, [name], timeout=timeout)
    replicas = [leader, *(n for n in nodes if n != leader)]

    def created() -> bool:
        fut = cluster.admin().create_topics([NewTopic(name, 1, replica_assignment=[replicas],
                                                      config=conf)])[name]
        try:
            fut.result(timeout=timeout)
        except Exception as exc:  # e.g. the old topic is still being deleted
            if errors.has(exc, "TOPIC_ALREADY_EXISTS"):
                return True
            if errors.has(exc, "INVALID_CONFIG", "INVALID_REPLICA_ASSIGNMENT"):
                raise errors.to_labkit(exc, f"create topic {name!r}") from None
            return False
        return True

    poll_until(f"topic {name!r} to be created", created, timeout=timeout, interval=0.2)
    def led() -> bool:  # a topic created a moment ago may be listed with an error first
        t = metadata(cluster, timeout=5).topics.get(name)
        return (t is not None and t.error is None and 0 in t.partitions
                and t.partitions[0].leader == leader)

    poll_until(f"node {leader} to lead {name!r}", led, timeout=timeout)
    return name


# -- who coordinates what -----------------------------------------------------------------
def _java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as Kafka computes it."""
    units = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def offsets_partition(group: str, partitions: int) -> int:
    """The partition of ``__consumer_offsets`` holding ``group``'s offsets:
    ``Utils.abs(groupId.hashCode()) % partitions``, as Kafka's group coordinator places
    groups (Kafka's ``abs`` maps Integer.MIN_VALUE to 0)."""
    h = _java_hash(group)
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return 0 if signed == -(1 << 31) else abs(signed) % partitions


def coordinator(cluster: Cluster, group: str) -> int:
    """The node coordinating ``group`` (asked with a fresh client: see the module notes)."""
    return int(describe_group(cluster, group).coordinator.id)


def group_coordinated_by(cluster: Cluster, node: int, prefix: str) -> str:
    """A group id ``<prefix>-<n>`` whose coordinator is ``node`` now: its offsets partition
    (:func:`offsets_partition`) is led by ``node``."""
    def offsets_leaders() -> dict[int, int] | None:
        coordinator(cluster, prefix)  # a first group lookup creates __consumer_offsets
        md = metadata(cluster, timeout=5).topics.get("__consumer_offsets")
        return (None if md is None or not md.partitions else
                {p: int(m.leader) for p, m in md.partitions.items()})

    led = poll_until("the group coordinators' topic __consumer_offsets", offsets_leaders,
                     timeout=30)
    assert led is not None  # poll_until returns only a truthy result
    for n in range(1000):
        group = f"{prefix}-{n}"
        if led.get(offsets_partition(group, len(led))) == node:
            return group
    raise NotFoundError(f"node {node} leads no partition of __consumer_offsets; leaders: {led}")


def parse_quorum(text: str) -> dict[str, str]:
    """The fields of ``kafka-metadata-quorum describe --status`` (``LeaderId``,
    ``LeaderEpoch``, ``HighWatermark``, ``CurrentVoters``…), as text."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and " " not in key.strip():
            fields[key.strip()] = value.strip()
    return fields


def unchanged_for(fn: Callable[[], object], seconds: float) -> Callable[[], bool]:
    """A condition for ``cluster.wait_for``: true once ``fn()`` has returned the same value
    for ``seconds`` (e.g. a count of acknowledgements that stopped growing)."""
    last: list[Any] = [fn(), time.monotonic()]

    def check() -> bool:
        now = fn()
        if now != last[0]:
            last[:] = [now, time.monotonic()]
        return time.monotonic() - last[1] >= seconds

    return check


# -- a student's loop, in the background ----------------------------------------------------
class Background:
    """Run ``fn(*args, stop=<threading.Event>, **kwargs)`` in a thread until :meth:`stop`
    (e.g. a producer loop written in the lesson, while a demo breaks the cluster).
    ``progress``: a function returning a number that grows while ``fn`` makes progress (acks
    so far); it is sampled every 50 ms and :attr:`longest_stall` is the longest time it
    did not grow. A ``with`` block starts and stops it."""

    def __init__(self, fn: Callable[..., Any], *args: Any,
                 progress: Callable[[], float] | None = None, **kwargs: Any) -> None:
        self._fn, self._args, self._kwargs, self._progress = fn, args, kwargs, progress
        self._stop = threading.Event()
        self._outcome: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self.longest_stall = 0.0
        """Seconds: the longest time ``progress()`` did not grow while running."""

    def start(self) -> Background:
        if self._threads:
            raise UsageError("this Background has been started already; make a new one")

        def work() -> None:
            try:
                self._outcome["result"] = self._fn(*self._args, stop=self._stop, **self._kwargs)
            except BaseException as exc:  # handed to stop()
                self._outcome["error"] = exc

        self._threads = [threading.Thread(target=work, name="labkit-background", daemon=True)]
        if self._progress is not None:
            self._threads.append(threading.Thread(target=self._watch, daemon=True,
                                                  name="labkit-background-watch"))
        for t in self._threads:
            t.start()
        return self

    def _watch(self) -> None:
        assert self._progress is not None
        value, since = self._progress(), time.monotonic()
        while not self._stop.wait(0.05):  # pacing of the samples, not a readiness wait
            now, current = time.monotonic(), self._progress()
            if current != value:
                value, since = current, now
            self.longest_stall = max(self.longest_stall, now - since)

    @property
    def running(self) -> bool:
        return bool(self._threads) and self._threads[0].is_alive()

    def stop(self, timeout: float = 60.0) -> Any:
        """Set the stop event, wait for ``fn`` to return (up to ``timeout`` s) and return its
        result; an error ``fn`` raised is raised here."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        if self.running:
            raise NotSupportedError(f"{getattr(self._fn, '__name__', 'the function')} did not "
                                    f"return within {timeout:g} s of being asked to stop")
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome.get("result")

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.stop()
        else:  # already failing: stop quietly, the block's error is the one to see
            with contextlib.suppress(Exception):
                self.stop()
