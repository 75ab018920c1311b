"""Every error labkit raises on purpose, in one tree rooted at :class:`LabkitError`.

The message of each is one line that says what is wrong and how to fix it; the CLI prints
it as is (no traceback) and exits with a non-zero code. Errors from the Kafka client are
mapped to this tree in one place, by error code (:mod:`labkit.kafka.errors`).

::

    LabkitError
    ├── UsageError (also ValueError)      an argument or setting that cannot work
    │   ├── SettingsError                 a LABKIT_* variable or keyword setting
    │   ├── ChartError                    a chart used wrongly
    │   ├── ControlError                  a lab control used wrongly
    │   └── StateError                    a handle used in the wrong state (stopped, closed)
    ├── NotFoundError (also LookupError)  a topic, partition, group, node, segment or file
    │   ├── UnknownTopicError
    │   └── UnknownGroupError
    ├── SetupError                        this machine cannot run the lab yet
    │   ├── JavaNotFoundError
    │   ├── KafkaJarsError ── MavenResolutionError, ChecksumError
    │   ├── PortInUseError
    │   └── BackendError
    ├── ClusterError                      the cluster is not there or cannot do it
    │   ├── ClusterNotRunningError
    │   ├── NodeStartError
    │   ├── NotSupportedError
    │   └── ClusterTimeoutError (also TimeoutError) ── ReadTimeoutError
    ├── KafkaRequestError                 the cluster answered a request with an error
    │   ├── ProduceError
    │   ├── CommitError
    │   ├── DeadLetterError
    │   └── KafkaToolError
    ├── DecodeError                       a record is not a lab event
    ├── ServiceError                      a background service failed
    ├── CheckFailed                       an exercise check did not pass (solutions on)
    └── CellFailed                        a %%solution/%%requires cell raised (shown above)
"""

from __future__ import annotations


class LabkitError(Exception):
    """Root of all labkit errors."""


# -- argument mistakes ---------------------------------------------------------------------------
class UsageError(LabkitError, ValueError):
    """An argument (or setting) that cannot work: wrong type, out of range, unknown value."""


class SettingsError(UsageError):
    """A LABKIT_* environment variable or keyword setting is invalid."""


class ChartError(UsageError):
    """A live chart was used in a way that cannot work."""


class ControlError(UsageError):
    """A lab control was used in a way that cannot work right now."""


class StateError(UsageError):
    """A handle was used in a state where that cannot work (e.g. stopped, or already closed)."""


# -- not found -----------------------------------------------------------------------------------
class NotFoundError(LabkitError, LookupError):
    """A topic, partition, group, node, segment or file the lab does not have."""


class UnknownTopicError(NotFoundError):
    """The topic (or a partition of it) does not exist."""


class UnknownGroupError(NotFoundError):
    """The consumer group does not exist."""


# -- this machine --------------------------------------------------------------------------------
class SetupError(LabkitError):
    """Something this machine needs to run the lab is missing or taken."""


class JavaNotFoundError(SetupError):
    """No usable Java (17 or newer) was found."""


class KafkaJarsError(SetupError):
    """The Kafka jars could not be found or fetched."""


class MavenResolutionError(KafkaJarsError):
    """Maven could not resolve one of Kafka's artifacts."""


class ChecksumError(KafkaJarsError):
    """A downloaded Kafka release did not match its published SHA-512."""


class PortInUseError(SetupError):
    """A port the cluster needs is already taken on 127.0.0.1."""


class BackendError(SetupError):
    """The chosen backend is unknown or unavailable on this machine."""


# -- the cluster ---------------------------------------------------------------------------------
class ClusterError(LabkitError):
    """The cluster is not there, or cannot do what was asked."""


class ClusterNotRunningError(ClusterError):
    """No lab cluster is running."""


class NodeStartError(ClusterError):
    """A Kafka node exited while starting."""


class NotSupportedError(ClusterError):
    """The operation is not possible with the current backend."""


class ClusterTimeoutError(ClusterError, TimeoutError):
    """Something did not happen in time (the message says what was waited for)."""


class ReadTimeoutError(ClusterTimeoutError):
    """A read or replay did not reach its stop offsets in time."""


# -- requests Kafka refused ----------------------------------------------------------------------
class KafkaRequestError(LabkitError):
    """The cluster answered a request with an error (``code`` is Kafka's error code)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ProduceError(KafkaRequestError):
    """Records could not be delivered (the message names the topic and the broker's error)."""


class CommitError(KafkaRequestError):
    """The group's offsets could not be committed."""


class DeadLetterError(KafkaRequestError):
    """A record could not be written to its dead-letter topic."""


class KafkaToolError(KafkaRequestError):
    """A Kafka command-line tool is unknown or failed."""


# -- the rest ------------------------------------------------------------------------------------
class DecodeError(LabkitError):
    """A record could not be decoded into an event."""


class ServiceError(LabkitError):
    """A background service failed or did not catch up in time."""


class CheckFailed(LabkitError):
    """An exercise check did not pass; the message is the hint."""


class CellFailed(LabkitError):
    """The code of a ``%%solution`` or ``%%requires`` cell raised; IPython showed its
    traceback already, so this one renders as one line (the cell still fails)."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook: no second traceback
        return [f"{type(self).__name__}: {self}"]


__all__ = [
    "BackendError", "CellFailed", "ChartError", "CheckFailed", "ChecksumError", "ClusterError",
    "ClusterNotRunningError", "ClusterTimeoutError", "CommitError", "ControlError",
    "DeadLetterError", "DecodeError", "JavaNotFoundError", "KafkaJarsError", "KafkaRequestError",
    "KafkaToolError", "LabkitError", "MavenResolutionError", "NodeStartError", "NotFoundError",
    "NotSupportedError", "PortInUseError", "ProduceError", "ReadTimeoutError", "ServiceError",
    "SettingsError", "SetupError", "StateError", "UnknownGroupError", "UnknownTopicError",
    "UsageError",
]
