"""Every error labkit raises on purpose derives from :class:`LabkitError`.

The message of each is one line that says what is wrong and how to fix it; the CLI prints
it as is (no traceback) and exits with a non-zero code.
"""

from __future__ import annotations


class LabkitError(Exception):
    """Root of all labkit errors."""


class SettingsError(LabkitError):
    """A LABKIT_* environment variable or keyword setting is invalid."""


class JavaNotFoundError(LabkitError):
    """No usable Java (17 or newer) was found."""


class KafkaJarsError(LabkitError):
    """The Kafka jars could not be found or fetched."""


class MavenResolutionError(KafkaJarsError):
    """Maven could not resolve one of Kafka's artifacts."""


class ChecksumError(KafkaJarsError):
    """A downloaded Kafka release did not match its published SHA-512."""


class PortInUseError(LabkitError):
    """A port the cluster needs is already taken on 127.0.0.1."""


class NodeStartError(LabkitError):
    """A Kafka node exited while starting."""


class ClusterTimeoutError(LabkitError):
    """The cluster did not become ready in time."""


class ClusterNotRunningError(LabkitError):
    """No lab cluster is running."""


class BackendError(LabkitError):
    """The chosen backend is unknown or unavailable on this machine."""


class NotSupportedError(LabkitError):
    """The operation is not possible with the current backend."""


class KafkaToolError(LabkitError):
    """A Kafka command-line tool is unknown or failed."""


class DecodeError(LabkitError):
    """A record could not be decoded into an event."""


class CheckFailed(LabkitError):
    """An exercise check did not pass; the message is the hint."""
