"""Kafka-level readiness: every broker is listed in the metadata, and a replicated topic can be
created and written with ``acks=all``. Never a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from labkit.exceptions import ClusterTimeoutError

READY_TOPIC = "__labkit_ready"


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

    from labkit.cluster.clients import shared_admin

    start = time.monotonic()
    deadline = start + timeout
    quiet = {**config, "log_level": 0}  # connection refusals while nodes start: noise
    admin = shared_admin(config)  # kept for the process: requests may still be in flight
    stage = f"the metadata to list brokers {sorted(expected)}"
    seen: set[int] = set()
    while True:
        check_alive()
        try:
            md = admin.list_topics(timeout=1.0)
            seen = set(md.brokers)
            if expected <= seen:
                break
        except KafkaException:
            pass
        _check_deadline(deadline, timeout, f"{stage} (seen {sorted(seen)})", logs_hint)
        time.sleep(0.1)

    stage = f"a write with acks=all to the replicated topic {READY_TOPIC}"
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
    last_error = ""
    while True:
        check_alive()
        fs = admin.create_topics(
            [NewTopic(READY_TOPIC, 1, rf, config={"min.insync.replicas": str(min_isr)})],
            operation_timeout=5,
        )
        try:
            fs[READY_TOPIC].result(timeout=10)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                last_error = str(exc)
        except Exception as exc:  # a future timing out while the controller settles
            last_error = str(exc)
        errors: list[str] = []
        producer.produce(
            READY_TOPIC, b"ready", on_delivery=lambda e, _m, errs=errors: e and errs.append(str(e))
        )
        remaining = producer.flush(8)
        if remaining == 0 and not errors:
            return time.monotonic() - start
        last_error = errors[0] if errors else "no acknowledgement yet"
        _check_deadline(deadline, timeout, f"{stage} (last: {last_error})", logs_hint)
        time.sleep(0.2)




def _check_deadline(
    deadline: float, timeout: float, what: str, logs_hint: Callable[[], str]
) -> None:
    if time.monotonic() < deadline:
        return
    logs = logs_hint()
    raise ClusterTimeoutError(
        f"the cluster was not ready after {timeout:.0f}s: waited for {what}."
        + (f"\nLast log lines:\n{logs}\n" if logs else " ")
        + "Hint: a slow machine may need LABKIT_START_TIMEOUT=180; 'labkit logs 1' shows a "
        "node's log"
    )
