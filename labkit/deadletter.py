"""Dead letters: records that cannot be decoded go, unchanged, to a dead-letter topic.

The dead letter keeps the original key, value, headers and timestamp, and adds headers:
``labkit.error`` (the reason, one line), ``labkit.source.topic``, ``labkit.source.partition``
and ``labkit.source.offset``. The default dead-letter topic is ``<topic>.dlq``; it is created
(one partition, so dead letters stay in the order they were found) when missing.
"""

from __future__ import annotations

from typing import Any, Literal

from labkit.exceptions import DeadLetterError, DecodeError, UsageError
from labkit.kafka import errors as kafka_errors
from labkit.kafka.clients import QUIET, Connection
from labkit.kafka.names import qualify
from labkit.kafka.topics import ensure_topic
from labkit.validate import choice
from labkit.waiting import poll_until

ERROR_HEADER = "labkit.error"
SOURCE_HEADERS = ("labkit.source.topic", "labkit.source.partition", "labkit.source.offset")


def dead_letter_topic(topic: str, dead_letter_topic: str | None = None) -> str:
    """The dead-letter topic of ``topic``: ``dead_letter_topic`` or ``<topic>.dlq``."""
    return dead_letter_topic or f"{topic}.dlq"


class DeadLetters:
    """Sends bad records to a dead-letter topic; :meth:`close` makes sure all arrived."""

    def __init__(self, cluster: Connection, source_topic: str, topic: str | None = None, *,
                 extra_config: dict[str, Any] | None = None) -> None:
        self.cluster = cluster
        self.source_topic = source_topic
        self.topic = dead_letter_topic(source_topic, topic)
        if self.topic == source_topic:
            raise UsageError(f"the dead-letter topic cannot be {source_topic!r} itself; "
                                  "pass another dead_letter_topic=")
        self.extra_config = extra_config
        self.count = 0
        self._producer: Any = None
        self._errors: list[str] = []

    def _start(self) -> Any:
        from confluent_kafka import Producer

        self.topic = qualify(self.cluster, self.topic)  # a class student's own
        ensure_topic(self.cluster, self.topic)  # one partition: dead letters stay in order
        conf = {"enable.idempotence": True, "acks": "all", "linger.ms": 5,
                "message.timeout.ms": 30_000, **(self.extra_config or {})}
        self._producer = Producer(self.cluster.config(**conf, on_delivery=self._delivered,
                                                      **QUIET))
        return self._producer

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._errors.append(f"{err.name()}: {err.str()}")

    def send(self, msg: Any, reason: str) -> None:
        """Route a confluent-kafka Message to the dead-letter topic, with ``reason``."""
        producer = self._producer or self._start()
        headers = list(msg.headers() or [])
        headers += [
            (ERROR_HEADER, " ".join(reason.split()).encode()),
            (SOURCE_HEADERS[0], msg.topic().encode()),
            (SOURCE_HEADERS[1], str(msg.partition()).encode()),
            (SOURCE_HEADERS[2], str(msg.offset()).encode()),
        ]
        kind, ts = msg.timestamp()
        kwargs = {"timestamp": ts} if kind != 0 and ts >= 0 else {}
        def handed_over() -> bool:
            try:
                producer.produce(self.topic, msg.value(), msg.key(), headers=headers, **kwargs)
            except BufferError:  # the queue is full: serve deliveries, then try again
                producer.poll(0.1)
                return False
            return True

        poll_until(f"room in the producer to {self.topic!r}", handed_over, timeout=60,
                   interval=0, retry_on=(), error=DeadLetterError,
                   hint="is the cluster up ('labkit status')?")
        producer.poll(0)
        self.count += 1

    def close(self, timeout: float = 30.0) -> None:
        """Wait for every dead letter to be acknowledged; raise DeadLetterError if not."""
        if self._producer is None:
            return
        left = self._producer.flush(timeout)
        if left or self._errors:
            first = self._errors[0] if self._errors else f"{left} still in flight"
            raise DeadLetterError(
                f"{len(self._errors) + left} of {self.count} dead letter(s) for "
                f"{self.source_topic!r} did not reach {self.topic!r} ({first}); "
                "is the cluster up ('labkit status')?")


ErrorMode = Literal["raise", "skip_to_dead_letter", "dead_letter"]
ERRORS: tuple[ErrorMode, ...] = ("raise", "skip_to_dead_letter", "dead_letter")
"""What ``read``/``replay`` do with a bad record (``dead_letter`` is short for the second)."""


def dead_letters(cluster: Connection, topic: str, errors: str,
                 dead_letter_topic: str | None = None) -> DeadLetters | None:
    """A :class:`DeadLetters` for ``errors="skip_to_dead_letter"``, None for ``"raise"``;
    a wrong ``errors`` is a UsageError listing the allowed values. Sends nothing yet."""
    choice("errors", errors, ERRORS)
    return None if errors == "raise" else DeadLetters(cluster, topic, dead_letter_topic)


def bad_record(m: Any, exc: DecodeError, topic: str, dead: DeadLetters | None) -> None:
    """A record the codec rejected: raise DecodeError saying where, or dead-letter it."""
    err = m.error()
    if err is not None:  # not a record but a consumer event
        if kafka_errors.has(err, "_PARTITION_EOF"):
            return
        raise kafka_errors.to_labkit(err, f"read {topic!r} partition {m.partition()}")
    if dead is None:
        raise DecodeError(f"{topic}[{m.partition()}]@{m.offset()}: {exc}; pass "
                          "errors='skip_to_dead_letter' to route bad records to a "
                          "dead-letter topic") from None
    dead.send(m, str(exc))


__all__ = [
    "ERRORS",
    "ERROR_HEADER",
    "SOURCE_HEADERS",
    "DeadLetterError",
    "DeadLetters",
    "bad_record",
    "dead_letter_topic",
    "dead_letters",
]
