"""Topics: the one way labkit finds a topic and its partitions, reads its settings, and
creates or deletes topics.

A topic that does not exist is :class:`~labkit.exceptions.UnknownTopicError` everywhere, with
the closest names for a typo. Topics are looked up in the full topic list, never by name
(asking for one topic by name could create it on a cluster that auto-creates topics).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from labkit.exceptions import ClusterTimeoutError, UnknownTopicError, UsageError
from labkit.kafka import errors
from labkit.kafka.clients import TIMEOUT, Connection
from labkit.kafka.names import qualify
from labkit.validate import name as check_name
from labkit.validate import near, positive
from labkit.waiting import Deadline, poll_until

if TYPE_CHECKING:
    from confluent_kafka.admin import ClusterMetadata, TopicMetadata

__all__ = ["create_topic", "delete_topics", "describe", "ensure_topic", "exists",
           "fresh_topic", "lab_topics", "listing", "metadata", "partition_ids", "pick_partitions",
           "topic_configs"]

SETTLE = 3.0
"""Seconds a topic labkit created a moment ago may take to reach every broker's metadata;
any other unknown name is reported at once."""

RETRY_BACKOFF = 0.1
"""Seconds between asking again for metadata whose connection dropped."""

_CREATED: dict[str, float] = {}  # topic -> when labkit created it (monotonic)
_CREATED_LOCK = threading.Lock()


def _just_created(topic: str) -> bool:
    with _CREATED_LOCK:
        return time.monotonic() - _CREATED.get(topic, -1e9) < 10 * SETTLE


def listing(conn: Connection, *, internal: bool = False,
            timeout: float = TIMEOUT) -> dict[str, TopicMetadata]:
    """Every topic's metadata, by name, in one request (Kafka's own ``__…`` topics only with
    ``internal``); topics the cluster reports with an error are left out."""
    return {n: t for n, t in sorted(_listing(conn, timeout).items())
            if t.error is None and (internal or not n.startswith("__"))}


def metadata(conn: Connection, *, timeout: float = TIMEOUT) -> ClusterMetadata:
    """The cluster's metadata in one request: ``.brokers`` (id -> host, port) and
    ``.topics`` (every topic, with its partitions' leaders, replicas and ISR).

    A request whose connection dropped (``_TRANSPORT``: the node that was asked is stopping)
    is asked again, of whichever node answers, until ``timeout``; any other failure, or the
    timeout, is reported at once."""
    deadline = Deadline(timeout)
    while True:
        try:
            return conn.admin().list_topics(timeout=deadline.clamp(timeout))
        except Exception as exc:  # KafkaException: the cluster did not answer
            if not errors.has(exc, "_TRANSPORT") or deadline.left < RETRY_BACKOFF:
                raise errors.to_labkit(exc, "read the cluster's metadata") from None
        time.sleep(RETRY_BACKOFF)  # as librdkafka's retry.backoff.ms, before asking again


def _listing(conn: Connection, timeout: float) -> dict[str, Any]:
    return dict(metadata(conn, timeout=timeout).topics)


class _NotListed(ClusterTimeoutError):
    """The topic is still not in the metadata after the settle time."""


def describe(conn: Connection, topic: str, *, timeout: float = TIMEOUT) -> TopicMetadata:
    """The metadata of ``topic`` (``.partitions``: id -> leader, replicas, isrs).
    UnknownTopicError (with "did you mean") if there is no such topic."""
    topic = qualify(conn, check_name("topic", topic))
    seen: dict[str, Any] = {}

    def found() -> TopicMetadata | None:
        seen.clear()
        seen.update(_listing(conn, timeout))
        t = seen.get(topic)
        return t if t is not None and t.error is None and t.partitions else None

    try:  # a topic created a moment ago may not be in every broker's metadata yet
        metadata = poll_until(f"topic {topic!r} to appear in the metadata", found,
                              timeout=SETTLE if _just_created(topic) else 0.0, retry_on=(),
                              error=_NotListed)
        assert metadata is not None  # poll_until returns only a truthy result of found()
        return metadata
    except _NotListed:  # (a cluster that does not answer is a ClusterTimeoutError instead)
        lab = [n for n in seen if not n.startswith("__")]
        raise UnknownTopicError(f"topic {topic!r} does not exist{near(topic, lab)}; create it "
                                f"(e.g. cluster.fresh_topic({topic!r})) or check the name") \
            from None


def exists(conn: Connection, topic: str, *, timeout: float = TIMEOUT) -> bool:
    try:
        describe(conn, topic, timeout=timeout)
    except UnknownTopicError:
        return False
    return True


def partition_ids(conn: Connection, topic: str, wanted: int | Iterable[int] | None = None, *,
                  timeout: float = TIMEOUT) -> list[int]:
    """The partition numbers of ``topic``, sorted; with ``wanted`` (one or several), those,
    after checking each exists (UnknownTopicError naming the partitions it has)."""
    return pick_partitions(topic, sorted(describe(conn, topic, timeout=timeout).partitions),
                           wanted)


def pick_partitions(topic: str, known: list[int],
                    wanted: int | Iterable[int] | None) -> list[int]:
    """``wanted`` partitions of ``topic`` (all if None), checked against the ``known`` ones
    already looked up: UnknownTopicError names the partitions it has."""
    if wanted is None:
        return known
    ids = [wanted] if isinstance(wanted, int) else list(wanted)
    for p in ids:
        if isinstance(p, bool) or not isinstance(p, int):
            raise UsageError(f"partition {p!r} is not valid; give partition numbers (ints) "
                             f"from {known}")
        if p not in known:
            raise UnknownTopicError(f"topic {topic!r} has no partition {p}; its partitions "
                                    f"are {known}")
    return sorted(set(ids))


def lab_topics(conn: Connection, *, internal: bool = False,
               timeout: float = TIMEOUT) -> list[str]:
    """Every topic's name, sorted; Kafka's and labkit's own (``__…``) only with ``internal``."""
    return list(listing(conn, internal=internal, timeout=timeout))


def topic_configs(conn: Connection, names: list[str], *, strict: bool = True,
                  timeout: float = TIMEOUT) -> dict[str, dict[str, Any]]:
    """Every config entry (``ConfigEntry``) of each topic, by Kafka's dotted name; a topic
    that cannot be described raises (``strict``) or is left out."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    if not names:
        return {}
    futures = conn.admin().describe_configs(
        [ConfigResource(ResourceType.TOPIC, n) for n in names], request_timeout=timeout)
    out: dict[str, dict[str, Any]] = {}
    for res, fut in futures.items():
        try:
            out[res.name] = dict(fut.result(timeout=timeout))
        except Exception as exc:
            if strict:
                raise errors.to_labkit(exc, f"describe topic {res.name!r}") from None
    return out


def _leaders_everywhere(conn: Connection, name: str, partitions: int | None) -> bool:
    t = _listing(conn, 5.0).get(name)
    return (t is not None and t.error is None and bool(t.partitions)
            and (partitions is None or len(t.partitions) == partitions)
            and all(p.leader >= 0 for p in t.partitions.values()))


def create_topic(conn: Connection, name: str, *, partitions: int = 3,
                 replication_factor: int | None = None, config: dict[str, str] | None = None,
                 exist_ok: bool = False, timeout: float = 30.0) -> str:
    """Create ``name`` and wait until every partition has a leader. Replication: the
    broker's ``default.replication.factor`` unless given. A topic deleted a moment ago may
    be refused for a short while: asked again until accepted; a bad setting is reported at
    once (UsageError)."""
    from confluent_kafka.admin import NewTopic

    name = qualify(conn, check_name("topic", name))
    new = NewTopic(name, partitions, replication_factor or -1, config=dict(config or {}))

    last: list[str] = []

    def created() -> bool:
        fut = conn.admin().create_topics([new], operation_timeout=timeout)[name]
        try:
            fut.result(timeout=timeout)
        except Exception as exc:
            if errors.has(exc, "TOPIC_ALREADY_EXISTS"):
                if exist_ok:
                    return True
                raise UsageError(f"topic {name!r} already exists; use fresh_topic to "
                                 "recreate it empty") from None
            mapped = errors.to_labkit(exc, f"create topic {name!r}")
            if isinstance(mapped, UsageError):  # a bad setting: a definite answer
                raise mapped from None
            last[:] = [errors.describe(exc)]  # e.g. the old topic is still being deleted
            return False
        return True

    poll_until(f"topic {name!r} to be created", created, timeout=timeout, interval=0.2,
               describe=lambda _no: last[0] if last else None)
    with _CREATED_LOCK:
        _CREATED[name] = time.monotonic()
    poll_until(f"a leader for every partition of {name!r}",
               lambda: _leaders_everywhere(conn, name, partitions), timeout=timeout)
    return name


def delete_topics(conn: Connection, names: list[str], *, timeout: float = 30.0) -> None:
    """Delete ``names`` (those that exist) and wait until the metadata no longer lists them."""
    if not names:
        return
    names = [qualify(conn, n) for n in names]
    futures = conn.admin().delete_topics(names, operation_timeout=timeout)
    for topic, fut in futures.items():
        try:
            fut.result(timeout=timeout)
        except Exception as exc:
            if not errors.has(exc, "UNKNOWN_TOPIC_OR_PART"):
                raise errors.to_labkit(exc, f"delete topic {topic!r}") from None
    poll_until(f"topics {names} to disappear from the metadata",
               lambda: not set(names) & set(_listing(conn, 5.0)), timeout=timeout)


def fresh_topic(conn: Connection, name: str, *, partitions: int = 3,
                replication_factor: int | None = None, config: dict[str, str] | None = None,
                timeout: float = 30.0) -> str:
    """(Re)create ``name`` empty: deleted first if it exists, so a notebook can run twice.
    The settings are checked by the cluster first (a dry run), so a bad one never costs the
    old topic."""
    name = qualify(conn, check_name("topic", name))
    _validate(conn, name, partitions, replication_factor, config, timeout)
    if name in _listing(conn, TIMEOUT):
        delete_topics(conn, [name], timeout=timeout)
    return create_topic(conn, name, partitions=partitions, replication_factor=replication_factor,
                        config=config, timeout=timeout)


def _validate(conn: Connection, name: str, partitions: int, replication_factor: int | None,
              config: dict[str, str] | None, timeout: float) -> None:
    """Ask the cluster to check a topic's settings without creating it (``validate_only``,
    under a name no topic has): a bad setting is a UsageError, before anything changes."""
    from confluent_kafka.admin import NewTopic

    positive("partitions", partitions, whole=True)
    if replication_factor is not None:
        positive("replication_factor", replication_factor, whole=True)
    probe = NewTopic(f"{name}.labkit-dry-run"[:249], partitions, replication_factor or -1,
                     config=dict(config or {}))
    fut = conn.admin().create_topics([probe], validate_only=True,
                                     operation_timeout=timeout)[probe.topic]
    try:
        fut.result(timeout=timeout)
    except Exception as exc:
        mapped = errors.to_labkit(exc, f"create topic {name!r}")
        if isinstance(mapped, UsageError):
            raise mapped from None  # anything else (e.g. a node down) shows when creating


def ensure_topic(conn: Connection, name: str, *, partitions: int = 1,
                 timeout: float = 30.0) -> str:
    """Create ``name`` (``partitions``, the broker's replication) unless it exists."""
    name = qualify(conn, name)
    if name in _listing(conn, TIMEOUT):
        return name
    return create_topic(conn, name, partitions=partitions, exist_ok=True, timeout=timeout)
