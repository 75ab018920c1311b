"""Live progress for the instructor: in class mode (``LABKIT_CLIENT_CONFIG``), every
exercise check's result is also produced, as an event keyed by the student, to the class
cluster's ``class.progress`` topic (students may write it; only the instructor reads it).
The class's progress is itself an event stream.

Reporting never stands in the student's way: if the event cannot be delivered, the check's
result is still returned, and one line says the instructor did not get it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from labkit.settings import Settings

__all__ = ["PROGRESS_TOPIC", "report"]

PROGRESS_TOPIC = "class.progress"
_LOCK = threading.Lock()
_PRODUCERS: dict[str, Any] = {}
_WARNED: set[str] = set()


def _producer(settings: Settings) -> Any:
    from confluent_kafka import Producer

    key = str(settings.client_config)
    with _LOCK:
        if key not in _PRODUCERS:
            _PRODUCERS[key] = Producer({"bootstrap.servers": settings.bootstrap_servers,
                                        **settings.security_config(), "acks": "all",
                                        "enable.idempotence": True, "log_level": 0})
        return _PRODUCERS[key]


def report(check: str, passed: bool, message: str, *, timeout: float = 5.0) -> bool:
    """Send one check result to ``class.progress`` if this lab runs as a student of a class
    cluster; whether it was delivered (False outside class mode)."""
    settings = Settings.from_env()
    student = settings.student
    if student is None:
        return False
    event = {"student": student, "check": check, "passed": passed, "message": message,
             "time": time.time()}
    errors: list[str] = []
    producer = _producer(settings)
    producer.produce(PROGRESS_TOPIC, key=student.encode(), value=json.dumps(event).encode(),
                     on_delivery=lambda err, _m: errors.append(str(err)) if err else None)
    left = producer.flush(timeout)
    if left or errors:
        why = errors[0] if errors else f"not acknowledged within {timeout:.0f} s"
        if why not in _WARNED:
            _WARNED.add(why)
            print(f"(your instructor did not get this result: {why})")
        return False
    return True
