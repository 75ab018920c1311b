"""Reading the cluster's metadata: a dropped connection is asked again, within the timeout.
(The end-to-end case, a coordinator stopped while offsets are read, is in test_clients.py.)"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from labkit.exceptions import ClusterTimeoutError, UnknownTopicError
from labkit.kafka.topics import metadata


class Answers:
    """An admin client's ``list_topics`` giving the answers in turn (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers, self.calls = list(answers), 0

    def admin(self) -> Answers:
        return self

    def list_topics(self, timeout: float) -> Any:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _error(name: str) -> KafkaException:
    return KafkaException(KafkaError(getattr(KafkaError, name), "Failed to get metadata"))


def test_a_dropped_connection_is_asked_again() -> None:
    conn = Answers(_error("_TRANSPORT"), _error("_TRANSPORT"), "metadata")
    assert metadata(conn, timeout=5) == "metadata"  # type: ignore[arg-type]
    assert conn.calls == 3


def test_a_connection_that_keeps_dropping_fails_within_the_timeout() -> None:
    conn = Answers(_error("_TRANSPORT"))
    t0 = time.monotonic()
    with pytest.raises(ClusterTimeoutError, match=r"read the cluster.s metadata.*cluster up"):
        metadata(conn, timeout=1)  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 3 and conn.calls > 1  # the timeout, and a bit


def test_any_other_failure_is_reported_at_once() -> None:
    conn = Answers(_error("_TIMED_OUT"))
    with pytest.raises(ClusterTimeoutError):
        metadata(conn, timeout=5)  # type: ignore[arg-type]
    conn = Answers(_error("UNKNOWN_TOPIC_OR_PART"))
    with pytest.raises(UnknownTopicError):
        metadata(conn, timeout=5)  # type: ignore[arg-type]
    assert conn.calls == 1
