"""labkit's own long-lived clients, shared by the whole process, and the rules for the
requests librdkafka handles badly.

* one AdminClient per cluster address (:func:`shared_admin`) for metadata, topics, configs
  and offsets;
* a short-lived AdminClient (:func:`coordinator_admin`) for requests sent to a group's
  coordinator (describe or delete groups);
* one consumer per group for reading committed offsets (:func:`committed`);
* retries where Kafka answers "ask again" while a group coordinator moves or loads
  (:func:`group_ids`, :func:`describe_groups`, :func:`committed`).

Two librdkafka bugs (up to 2.16 at least, both open upstream) make a process die when a
coordinator request meets a node that stops or restarts:

* ``AdminClient.list_consumer_group_offsets`` answered with ``NOT_COORDINATOR`` (the
  coordinator moved) dereferences the consumer group of a client that has none: SIGSEGV in
  ``rd_kafka_cgrp_op`` on the ``rdk:main`` thread (confluentinc/librdkafka#5040, fix
  proposed in #5318). A consumer configured with the group handles that answer as it should
  (it finds the new coordinator and asks again), so labkit reads committed offsets that way.
* a coordinator request that cannot be sent over a connection that just broke frees its
  state twice: abort on ``eonce->refcnt > 0`` in ``rd_kafka_admin_coord_response_parse``
  (confluentinc/librdkafka#5397). A long-lived AdminClient keeps connections to nodes that
  restarted; a new one connects afresh, so these requests get their own client.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from labkit.exceptions import SettingsError
from labkit.kafka import errors
from labkit.settings import DEFAULT_REQUEST_TIMEOUT, Settings
from labkit.waiting import Deadline, poll_until

if TYPE_CHECKING:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient

MAX_READERS = 16  # offset readers kept open (a student's notebook uses a handful of groups)
MAX_PARKED = 16  # clients kept alive after an error, in case a request is still in flight
def _request_timeout() -> float:
    try:
        return Settings.from_env().request_timeout
    except SettingsError:  # a bad LABKIT_* is reported, as one line, where it is used
        return DEFAULT_REQUEST_TIMEOUT


TIMEOUT = _request_timeout()
"""Seconds labkit's own queries wait for the cluster by default (``LABKIT_REQUEST_TIMEOUT``,
read when labkit is imported)."""

QUIET: dict[str, Any] = {"log_level": 0}
"""librdkafka logs nothing for labkit's own clients: failures reach the user as delivery
errors or exceptions, not as stderr noise. (Not a Python logger: librdkafka would call it from
its own threads, and a client collected there would be destroyed from its own thread.)"""


class Connection(Protocol):
    """What the query layer needs of a cluster: a client config and a shared AdminClient
    (every :class:`labkit.Cluster` is one)."""

    def config(self, **extra: Any) -> dict[str, Any]: ...

    def admin(self) -> AdminClient: ...


_ADMINS: dict[tuple[tuple[str, str], ...], AdminClient] = {}
_ADMINS_LOCK = threading.Lock()
_PARKED: list[tuple[float, AdminClient]] = []  # (when, client) whose requests may be in flight
_READERS: OrderedDict[tuple[Any, ...], Consumer] = OrderedDict()
_READERS_LOCK = threading.Lock()  # also serialises the reads: they are short, and a reader
#                                   evicted by one thread is never in use by another


def _key(config: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in config.items()))


def shared_admin(config: dict[str, Any]) -> AdminClient:
    """labkit's own AdminClient for ``config``: one per address for the process (creating one
    costs a connection and a metadata round trip per call otherwise). It logs nothing:
    reconnect attempts while nodes stop are noise, and a Python logger would be called from
    librdkafka's own threads."""
    conf = {**config, "log_level": 0}
    key = _key(conf)
    with _ADMINS_LOCK:
        if key not in _ADMINS:
            from confluent_kafka.admin import AdminClient

            _ADMINS[key] = AdminClient(conf)
        return _ADMINS[key]


@contextlib.contextmanager
def coordinator_admin(config: dict[str, Any]) -> Iterator[AdminClient]:
    """A new AdminClient for requests to a group coordinator (see the module's notes). It is
    destroyed on a clean exit, when every request it made has been answered; after an error
    (e.g. a timed-out future) it is kept for the process instead, as a request may still be
    in flight."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**config, "log_level": 0})
    try:
        yield admin
    except BaseException:
        _park(admin)
        raise


def _park(admin: AdminClient) -> None:
    """Keep ``admin`` alive for a while: a request of its may still be in flight, and
    destroying it then can crash librdkafka. The list is bounded: the oldest (parked long
    after any request timeout) are let go."""
    with _ADMINS_LOCK:
        _PARKED.append((time.monotonic(), admin))
        del _PARKED[:-MAX_PARKED]


def release(config: dict[str, Any]) -> None:
    """Forget the shared AdminClient and close the offset readers made for ``config`` (what
    :meth:`labkit.Cluster.close` calls). The admin client is parked, not destroyed."""
    key = _key({**config, "log_level": 0})
    with _ADMINS_LOCK:
        admin = _ADMINS.pop(key, None)
    if admin is not None:
        _park(admin)
    with _READERS_LOCK:
        for k in [k for k in _READERS if k[0] == _key(config)]:
            _READERS.pop(k).close()


def open_readers() -> int:
    """How many offset readers are open (at most MAX_READERS)."""
    with _READERS_LOCK:
        return len(_READERS)


def group_ids(admin: AdminClient, *, timeout: float) -> list[str]:
    """Every consumer group's id. The request goes to every node and each answers for the
    groups it coordinates; a node still loading some of them (leadership of
    ``__consumer_offsets`` just moved to it) answers with an error, and its groups are missing
    from the result. Asked again until every node answered, up to ``timeout`` seconds. For a
    moment while a coordinator moves, a group can also be left out with no error at all (the
    old node gave it up, the new one has not taken it yet): to find one group, describe it
    by name (:func:`describe_groups`) rather than look for it here."""
    deadline = Deadline(timeout)
    listed: list[Any] = []  # the last ListConsumerGroupsResult (the admin future is untyped)

    def every_node_answered() -> bool:
        left = max(deadline.left, 1.0)
        result = admin.list_consumer_groups(request_timeout=left).result(timeout=left + 1)
        listed[:] = [result]
        return not result.errors

    poll_until("every node to list its consumer groups", every_node_answered,
               timeout=timeout, interval=0.2, retry_on=(),
               describe=lambda _no: f"{len(listed[0].errors)} node(s) answered "
                                    f"{errors.describe(listed[0].errors[0])}",
               hint="a node that just (re)started may still be loading its groups; try "
                    "again in a few seconds")
    return sorted({g.group_id for g in listed[0].valid})


def describe_groups(config: dict[str, Any], names: Iterable[str], *,
                    timeout: float) -> dict[str, Any]:
    """``describe_consumer_groups`` of ``names`` (one request per coordinator, on a new
    AdminClient: see the module's notes), asking again for the groups whose coordinator
    moved or is loading, up to ``timeout`` seconds. A group that does not exist is described
    with state DEAD and no members."""
    pending, found = list(dict.fromkeys(names)), {}
    deadline = Deadline(timeout)
    last: list[object] = []

    def all_described() -> bool:  # one round for the groups still pending
        again = []
        with coordinator_admin(config) as admin:
            left = max(deadline.left, 1.0)
            futures = admin.describe_consumer_groups(pending, request_timeout=left)
            for name in pending:
                try:
                    found[name] = futures[name].result(timeout=left + 1)
                except Exception as exc:  # KafkaException, or the future timed out
                    if not coordinator_moving(exc):
                        raise errors.to_labkit(exc, f"describe consumer group {name!r}") \
                            from None
                    again.append(name)
                    last[:] = [errors.describe(exc)]
        pending[:] = again
        return not pending

    if pending:
        poll_until(f"the coordinators of groups {pending} to answer", all_described,
                   timeout=timeout, retry_on=(), describe=lambda _no: last[0])
    return found


def committed(config: dict[str, Any], group: str, partitions: Iterable[tuple[str, int]], *,
              timeout: float) -> dict[tuple[str, int], int]:
    """The offsets ``group`` has committed on ``partitions`` ((topic, partition) pairs); a
    partition where it committed nothing is left out. Asks through a consumer that has
    ``group.id`` = ``group`` but never subscribes, so it never joins the group. While the
    group's coordinator moves (a node stops, or leadership returns to a restarted one) the
    answer is "not coordinator": the consumer looks up the new one and is asked again, up to
    ``timeout`` seconds in all."""
    from confluent_kafka import KafkaException, TopicPartition

    wanted = [TopicPartition(t, p) for t, p in partitions]
    if not wanted:
        return {}
    got: list[Any] = []
    last: list[object] = []

    def read() -> bool:
        try:
            answer = reader.committed(wanted, timeout=max(deadline.left, 0.1))
        except KafkaException as exc:
            err, where = exc.args[0], ""
        else:
            bad = next((tp for tp in answer if tp.error is not None), None)
            if bad is None:
                got[:] = answer
                return True
            err, where = bad.error, f" on {bad.topic}[{bad.partition}]"
        if not coordinator_moving(err):
            raise errors.to_labkit(err, f"read the offsets group {group!r} committed{where}")
        last[:] = [errors.describe(err)]  # the consumer finds the new coordinator meanwhile
        return False

    deadline = Deadline(timeout)
    with _READERS_LOCK:  # held across the tries: an evicted reader is never in use
        reader = _reader(config, group)
        poll_until(f"the coordinator of group {group!r} to answer", read, timeout=timeout,
                   retry_on=(), describe=lambda _no: last[0])
    return {(tp.topic, tp.partition): int(tp.offset) for tp in got if tp.offset >= 0}


def coordinator_moving(error: Any) -> bool:
    """``error`` (a KafkaError, or a KafkaException carrying one) says "ask again": the
    group's coordinator moved, is not known yet, or is still loading the group."""
    return errors.has(error, "NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE",
                      "COORDINATOR_LOAD_IN_PROGRESS", "_WAIT_COORD", "_TRANSPORT")


def _reader(config: dict[str, Any], group: str) -> Consumer:
    """The cached offset reader of ``group`` (caller holds ``_READERS_LOCK``); the least
    recently used one is closed when more than MAX_READERS are open."""
    from confluent_kafka import Consumer

    key = (_key(config), group)
    reader = _READERS.pop(key, None)
    if reader is None:
        reader = Consumer({**config, "group.id": group, "enable.auto.commit": False,
                           "client.id": "labkit-offsets", "log_level": 0})
    _READERS[key] = reader  # most recently used last
    while len(_READERS) > MAX_READERS:
        _READERS.popitem(last=False)[1].close()
    return reader
