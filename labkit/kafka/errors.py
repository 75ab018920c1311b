"""Kafka client errors, classified in one place by ``KafkaError.code()`` (never by message
text), and mapped to labkit's error tree (:mod:`labkit.exceptions`)."""

from __future__ import annotations

from typing import Any

from labkit.exceptions import (
    ClusterTimeoutError,
    KafkaRequestError,
    LabkitError,
    UnknownGroupError,
    UnknownTopicError,
    UsageError,
)

__all__ = ["code", "describe", "has", "kafka_error", "to_labkit"]


def kafka_error(error: Any) -> Any:
    """The ``KafkaError`` in ``error`` (a KafkaError, or a KafkaException carrying one), or
    None for anything else (e.g. a future that timed out)."""
    from confluent_kafka import KafkaError, KafkaException

    if isinstance(error, KafkaException) and error.args:
        error = error.args[0]
    return error if isinstance(error, KafkaError) else None


def code(error: Any) -> int | None:
    """Kafka's error code in ``error``, None if it carries none."""
    err = kafka_error(error)
    return None if err is None else int(err.code())


def has(error: Any, *names: str) -> bool:
    """Whether ``error`` carries one of the error codes ``names`` (``KafkaError`` attribute
    names: ``"UNKNOWN_TOPIC_OR_PART"``, ``"_TIMED_OUT"``...)."""
    from confluent_kafka import KafkaError

    got = code(error)
    return got is not None and any(got == getattr(KafkaError, n) for n in names)


def describe(error: Any) -> str:
    """``NAME: text`` of a Kafka error, else the exception's own one-line text."""
    err = kafka_error(error)
    if err is not None:
        return f"{err.name()}: {err.str()}"
    return " ".join(str(error).split()) or type(error).__name__


_UNKNOWN_TOPIC = ("UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION")
_NOT_ANSWERING = ("_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "REQUEST_TIMED_OUT",
                  "_MSG_TIMED_OUT")
_BAD_REQUEST = ("INVALID_CONFIG", "INVALID_REPLICATION_FACTOR", "INVALID_PARTITIONS",
                "POLICY_VIOLATION", "TOPIC_EXCEPTION", "INVALID_REQUEST",
                "UNSUPPORTED_VERSION", "_INVALID_ARG")


def to_labkit(error: Any, doing: str, *, hint: str = "") -> LabkitError:
    """The labkit error for a Kafka failure while ``doing`` (e.g. "describe topic 'x'"):
    unknown topic -> UnknownTopicError, unknown group -> UnknownGroupError, a cluster that
    does not answer -> ClusterTimeoutError, a request Kafka calls invalid -> UsageError,
    anything else -> KafkaRequestError (with ``.code``)."""
    text = f"could not {doing}: {describe(error)}" + (f"; {hint}" if hint else "")
    if has(error, *_UNKNOWN_TOPIC):
        return UnknownTopicError(text)
    if has(error, "GROUP_ID_NOT_FOUND"):
        return UnknownGroupError(text)
    if has(error, *_NOT_ANSWERING) or (kafka_error(error) is None
                                       and isinstance(error, TimeoutError)):
        return ClusterTimeoutError(text + ("" if hint else
                                           "; is the cluster up? 'labkit status' shows it"))
    if has(error, *_BAD_REQUEST):
        return UsageError(text)
    if isinstance(error, LabkitError):
        return error
    return KafkaRequestError(text, code=code(error))
