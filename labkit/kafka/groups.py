"""Consumer groups: committed offsets, progress and lag, finding and deleting groups.

Committed offsets are read through a consumer of the group, never through
``AdminClient.list_consumer_group_offsets``: see :mod:`labkit.kafka.clients` for the
librdkafka bug that makes the latter crash the process while a coordinator moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from labkit.exceptions import ClusterTimeoutError, UnknownGroupError
from labkit.kafka import clients, errors
from labkit.kafka.clients import TIMEOUT, Connection
from labkit.kafka.names import qualify
from labkit.kafka.offsets import watermarks
from labkit.kafka.topics import delete_topics, lab_topics, listing, partition_ids
from labkit.validate import name as check_name
from labkit.validate import near
from labkit.waiting import poll_until

__all__ = ["Progress", "committed", "delete_groups", "describe", "exists", "group_ids",
           "group_settings", "lag", "progress", "require", "reset", "unknown_group"]

TP = tuple[str, int]


def _every_partition(conn: Connection, topics: str | Iterable[str] | None) -> list[TP]:
    """(topic, partition) of ``topics`` (each must exist); None: every lab topic."""
    if topics is None:
        return [(t, p) for t, meta in listing(conn).items() for p in sorted(meta.partitions)]
    names = [topics] if isinstance(topics, str) else list(topics)
    return [(t, p) for t in names for p in partition_ids(conn, t)]


def committed(conn: Connection, group: str, topics: str | Iterable[str] | None = None, *,
              timeout: float = TIMEOUT) -> dict[TP, int]:
    """The offsets ``group`` has committed, per (topic, partition), on ``topics`` (default:
    every lab topic); a partition where it committed nothing is left out."""
    group = qualify(conn, check_name("group", group))
    if topics is not None:
        topics = qualify(conn, topics) if isinstance(topics, str) else \
            [qualify(conn, t) for t in topics]
    return clients.committed(conn.config(), group, _every_partition(conn, topics),
                             timeout=timeout)


def describe(conn: Connection, group: str, *, timeout: float = TIMEOUT) -> Any:
    """Kafka's description of ``group`` (state, members and their assignments). A group
    that does not exist is described as DEAD with no members."""
    group = qualify(conn, check_name("group", group))
    return clients.describe_groups(conn.config(), [group], timeout=timeout)[group]


def group_ids(conn: Connection, *, timeout: float = TIMEOUT) -> list[str]:
    """Every consumer group's id (see :func:`labkit.kafka.clients.group_ids` on the moments
    a group can be missing from the list)."""
    return clients.group_ids(conn.admin(), timeout=timeout)


def exists(conn: Connection, group: str, *, timeout: float = TIMEOUT) -> bool:
    """Whether Kafka knows ``group``: it has members, or offsets it committed. Asked by name
    (the group list can miss groups whose coordinator is moving)."""
    if describe(conn, group, timeout=timeout).state.name != "DEAD":
        return True
    return bool(committed(conn, group, timeout=timeout))


def require(conn: Connection, group: str, *, timeout: float = TIMEOUT) -> None:
    """UnknownGroupError, with the closest group names, unless ``group`` exists."""
    if not exists(conn, group, timeout=timeout):
        raise unknown_group(conn, group, timeout=timeout)


def unknown_group(conn: Connection, group: str, *, timeout: float = TIMEOUT) -> UnknownGroupError:
    """The error for a group Kafka does not know, naming the closest group names."""
    group, known = qualify(conn, group), group_ids(conn, timeout=timeout)
    return UnknownGroupError(f"consumer group {group!r} does not exist{near(group, known)} "
                            f"({len(known)} group(s) exist: inspect.groups() lists them); "
                            "a group exists once a consumer with that group.id joined or "
                            "committed")


class Progress(NamedTuple):
    """Where a group is on one partition: the partition's high watermark, and the group's
    position (its committed offset, or the log start where it committed nothing). Lag is
    their difference. None where the partition did not answer."""

    high_watermark: int | None
    position: int | None

    @property
    def lag(self) -> int | None:
        if self.high_watermark is None or self.position is None:
            return None
        return max(0, self.high_watermark - self.position)


def progress(conn: Connection, group: str, topic: str, *,
             timeout: float = TIMEOUT) -> dict[int, Progress]:
    """:class:`Progress` of ``group`` on each partition of ``topic``: one metadata request,
    one offsets request per side and one committed-offsets request (a chart samples this
    twice a second)."""
    group, topic = qualify(conn, check_name("group", group)), qualify(conn, topic)
    tps = [(topic, p) for p in partition_ids(conn, topic, timeout=timeout)]
    marks = watermarks(conn, tps, settle=0, timeout=timeout)
    done = clients.committed(conn.config(), group, tps, timeout=timeout)
    return {p: Progress(marks[(t, p)].high_watermark,
                        done.get((t, p), marks[(t, p)].log_start)) for t, p in tps}


def lag(conn: Connection, group: str, topic: str, *,
        timeout: float = TIMEOUT) -> dict[int, int | None]:
    """Events behind per partition: high watermark − position (see :class:`Progress`)."""
    return {p: pr.lag for p, pr in progress(conn, group, topic, timeout=timeout).items()}


def delete_groups(conn: Connection, groups: list[str], *, timeout: float = 30.0) -> None:
    """Delete consumer groups. A group whose members are still there (e.g. a kernel that
    crashed a moment ago), or whose coordinator is moving, is asked again until its members'
    sessions expire or the coordinator answers, up to ``timeout``."""
    pending = list(groups)
    last: dict[str, Any] = {}

    def deleted() -> bool:
        busy: list[str] = []
        with clients.coordinator_admin(conn.config()) as admin:
            futures = admin.delete_consumer_groups(pending, request_timeout=10)
            for group, fut in futures.items():
                try:
                    fut.result(timeout=15)
                except Exception as exc:
                    if errors.has(exc, "GROUP_ID_NOT_FOUND"):
                        continue
                    if not (errors.has(exc, "NON_EMPTY_GROUP")
                            or clients.coordinator_moving(exc)):
                        raise errors.to_labkit(exc, f"delete consumer group {group!r}") \
                            from None
                    busy.append(group)
                    last[group] = exc
        pending[:] = busy
        return not busy

    if not pending:
        return
    try:
        poll_until("consumer groups to be deleted", deleted, timeout=timeout, interval=0.5,
                   retry_on=())
    except ClusterTimeoutError:
        group = pending[0]
        if not errors.has(last[group], "NON_EMPTY_GROUP"):  # its coordinator never answered
            raise ClusterTimeoutError(f"could not delete consumer group {group!r} within "
                                      f"{timeout:.0f}s: {errors.describe(last[group])}") \
                from None
        raise ClusterTimeoutError(
            f"consumer group {group!r} still has members after {timeout:.0f}s; stop its "
            "consumers (e.g. restart the notebook kernel that runs them) and try again"
        ) from None


def reset(conn: Connection, prefix: str = "") -> tuple[list[str], list[str]]:
    """Delete the consumer groups and topics whose names start with ``prefix`` (all lab ones
    by default); keep Kafka's internal topics. Returns (topics, groups) deleted."""
    groups = [g for g in group_ids(conn) if g.startswith(prefix)]
    delete_groups(conn, groups)
    topics = [t for t in lab_topics(conn) if t.startswith(prefix)]
    delete_topics(conn, topics)
    return topics, groups


def group_settings(conn: Connection, *, timeout: float = TIMEOUT) -> dict[str, int]:
    """The group settings of the broker that answers first: ``group.consumer.*`` session
    and heartbeat times, in milliseconds (KIP-848 groups get theirs from the broker)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    broker = min(conn.admin().list_topics(timeout=timeout).brokers)
    fut = conn.admin().describe_configs([ConfigResource(ResourceType.BROKER, str(broker))],
                                        request_timeout=timeout)
    try:
        entries = dict(next(iter(fut.values())).result(timeout=timeout))
    except Exception as exc:
        raise errors.to_labkit(exc, f"describe broker {broker}") from None
    return {k: int(v.value) for k, v in entries.items()
            if k.startswith("group.consumer.") and k.endswith(("session.timeout.ms",
                                                               "heartbeat.interval.ms"))}
