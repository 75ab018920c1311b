"""Kafka-level readiness, never a sleep:

- :func:`wait_until_ready`: every broker is listed in the metadata, and a replicated topic can
  be created and written with ``acks=all``;
- :func:`listed_by_every_node` / :func:`wait_rejoined`: a (re)started node is listed by every
  live node's own metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from labkit.exceptions import ClusterTimeoutError
from labkit.waiting import Deadline, poll_until, timeout_message

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster, NodeInfo

READY_TOPIC = "__labkit_ready"
READY_HINT = ("a slow machine may need LABKIT_START_TIMEOUT=180; 'labkit logs 1' shows a "
              "node's log")


def _stage(what: str, attempt: Callable[[], bool], status: Callable[[], object],
           deadline: Deadline, logs_hint: Callable[[], str], interval: float) -> None:
    """Poll ``attempt`` until it succeeds within what is left of ``deadline``; on timeout say
    what was waited for, the whole timeout, the last status, the hint and the last log lines."""
    try:
        poll_until(what, attempt, timeout=deadline.left, interval=interval)
    except ClusterTimeoutError:
        logs = logs_hint()
        raise ClusterTimeoutError(
            "the cluster was not ready: "
            + timeout_message(what, deadline.timeout, status(), READY_HINT)
            + (f"\nLast log lines:\n{logs}" if logs else "")
        ) from None


def wait_until_ready(
    config: dict[str, Any],
    expected: set[int],
    *,
    timeout: float,
    check_alive: Callable[[], None] = lambda: None,
    logs_hint: Callable[[], str] = lambda: "",
    min_isr: int = 1,
) -> float:
    """Block until the cluster serves reads and writes; returns the seconds it took.

    ``check_alive`` raises if a node died meanwhile (so a crash is reported at once, not at the
    timeout); ``logs_hint`` gives the last log lines to put in the timeout error.
    """
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import NewTopic

    from labkit.kafka.clients import shared_admin

    deadline = Deadline(timeout)
    quiet = {**config, "log_level": 0}  # connection refusals while nodes start: noise
    admin = shared_admin(config)  # kept for the process: requests may still be in flight
    seen: set[int] = set()

    def listed() -> bool:
        check_alive()
        try:
            seen.clear()
            seen.update(admin.list_topics(timeout=1.0).brokers)
        except KafkaException:
            return False
        return expected <= seen

    _stage(f"the metadata to list brokers {sorted(expected)}", listed,
           lambda: f"seen {sorted(seen)}", deadline, logs_hint, interval=0.1)

    rf = len(expected)
    producer = Producer(
        {
            **quiet,
            "acks": "all",
            "message.timeout.ms": 5000,
            "enable.idempotence": False,
            "linger.ms": 0,
        }
    )
    last_error = ["no attempt yet"]

    def written() -> bool:
        check_alive()
        fs = admin.create_topics(
            [NewTopic(READY_TOPIC, 1, rf, config={"min.insync.replicas": str(min_isr)})],
            operation_timeout=5,
        )
        try:
            fs[READY_TOPIC].result(timeout=10)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                last_error[0] = str(exc)
        except Exception as exc:  # a future timing out while the controller settles
            last_error[0] = str(exc)
        errors: list[str] = []

        def on_delivery(err: object, _msg: object, errs: list[str] = errors) -> None:
            if err is not None:
                errs.append(str(err))

        producer.produce(READY_TOPIC, b"ready", on_delivery=on_delivery)
        if producer.flush(8) == 0 and not errors:
            return True
        last_error[0] = errors[0] if errors else "no acknowledgement yet"
        return False

    _stage(f"a write with acks=all to the replicated topic {READY_TOPIC}", written,
           lambda: last_error[0], deadline, logs_hint, interval=0.2)
    return deadline.elapsed


def unlisted_by(nodes: Iterable[NodeInfo], node_id: int,
                security: dict[str, str] | None = None) -> str:
    """Why the restart of ``node_id`` is not complete yet ('' once every live node's own
    metadata lists it). Asking any one node is not enough: after a kill the others keep listing
    the old process until its session expires (``broker.session.timeout.ms``, 9 s), and each
    learns of the new one on its own, a moment apart. A new client per node, so the question
    goes to that node (librdkafka connects only to its bootstrap node first). ``security``:
    the cluster's SASL/SSL client settings, if it has any."""
    from confluent_kafka.admin import AdminClient

    for n in sorted(nodes, key=lambda n: n.id != node_id):  # the restarted one first
        if not n.alive:
            continue
        admin = AdminClient({**(security or {}), "bootstrap.servers": f"{n.host}:{n.port}",
                             "log_level": 0})
        try:
            if node_id not in admin.list_topics(timeout=1.0).brokers:
                return f"node {n.id} does not list node {node_id} yet"
        except Exception as exc:  # e.g. that node is restarting too
            return f"node {n.id} did not answer ({' '.join(str(exc).split())})"
    return ""


def listed_by_every_node(nodes: Iterable[NodeInfo], node_id: int) -> bool:
    """Every live node among ``nodes`` lists ``node_id``: its (re)start is complete."""
    return not unlisted_by(nodes, node_id)


def wait_rejoined(
    cluster: Cluster,
    node_ids: Iterable[int],
    *,
    timeout: float,
    check_alive: Callable[[int], None] = lambda node_id: None,
) -> None:
    """Wait until every live node of ``cluster`` lists each of ``node_ids`` (just started or
    restarted). ``check_alive(node_id)`` raises at once if that node's process died."""
    pending = sorted(set(node_ids))
    if not pending:
        return
    why = [""]

    def rejoined() -> bool:
        for node_id in list(pending):
            check_alive(node_id)
            why[0] = unlisted_by(cluster.nodes, node_id, security=cluster.security_config())
            if why[0]:
                return False
            pending.remove(node_id)
        return True

    names = ", ".join(map(str, pending))
    poll_until(f"node(s) {names} to rejoin the cluster (every live node listing them)",
               rejoined, timeout=timeout, interval=0.1, describe=lambda _v: why[0],
               hint=f"'labkit logs {pending[0]}' shows the node's log")


__all__ = ["READY_TOPIC", "listed_by_every_node", "unlisted_by", "wait_rejoined",
           "wait_until_ready"]
