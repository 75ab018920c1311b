"""The interface every backend (local JVM, external, docker compose, testcontainers) offers."""

from __future__ import annotations

import contextlib
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.exceptions import LabkitError, NotFoundError, NotSupportedError, UsageError
from labkit.kafka.clients import shared_admin
from labkit.settings import Settings

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient


@dataclass(frozen=True)
class NodeInfo:
    """One Kafka node as the backend knows it."""

    id: int
    host: str
    port: int
    controller_port: int | None = None
    pid: int | None = None
    directory: Path | None = None
    alive: bool = True


_CALLBACK_KEYS = {
    "log_level",  # librdkafka's own name, with an underscore
    "error_cb",
    "throttle_cb",
    "stats_cb",
    "oauth_cb",
    "on_delivery",
    "on_commit",
    "logger",
}


def _config_key(key: str) -> str:
    """``group_id`` -> ``group.id``; callbacks (``error_cb``...) keep their names."""
    return key if key in _CALLBACK_KEYS or "." in key else key.replace("_", ".")


def client_config(base: Mapping[str, Any], settings: Mapping[str, Any] | None,
                  extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base``, then ``settings`` in Kafka's own keys (as is), then keyword ``extra`` with
    each underscore rewritten to a dot; a non-Kafka key in ``settings`` or one setting given
    twice raises UsageError saying what to write instead."""
    conf = dict(base)
    for key in settings or {}:
        if not isinstance(key, str) or ("." not in key and "_" in key
                                        and key not in _CALLBACK_KEYS):
            raise UsageError(
                f"{key!r} is not a Kafka client setting: Kafka's keys are written with dots "
                f"({_config_key(str(key))!r}); only keyword arguments are rewritten "
                f"(config({key}=...) means {_config_key(str(key))!r})")
    given = dict(settings or {})
    for key, value in extra.items():
        real = _config_key(key)
        if real in given:
            raise UsageError(f"{real!r} is given twice (as {key!r} and as {real!r}); give it "
                             "once")
        given[real] = value
    conf.update(given)
    return conf


class ClientConfig(dict[str, Any]):
    """A client config: a plain dict for confluent-kafka, shown with its secrets masked
    (``print(cluster.config())`` in a notebook must not put a password in its output)."""

    SECRET = ("password", "sasl.jaas.config", "sasl.oauthbearer.client.secret")

    def __repr__(self) -> str:
        shown = {k: "********" if any(s in k for s in self.SECRET) and v else v
                 for k, v in self.items()}
        return repr(shown)

    __str__ = __repr__


class Cluster(ABC):
    """A running Kafka cluster the lab talks to.

    Use :func:`labkit.connect` to get one. As a context manager it stops, on exit, a cluster
    that it started itself (and leaves alone one it merely attached to).
    """

    backend: str = "?"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_here = False
        self._admin: AdminClient | None = None

    # -- what every backend provides ---------------------------------------------------------
    @property
    @abstractmethod
    def bootstrap_servers(self) -> str: ...

    @property
    @abstractmethod
    def nodes(self) -> list[NodeInfo]: ...

    @abstractmethod
    def down(self, *, purge: bool = False) -> None:
        """Stop the cluster (``purge`` also deletes its data)."""

    def up(self) -> Cluster:
        """Start the cluster (where the backend can) and wait until it is ready."""
        raise NotSupportedError(f"the {self.backend} backend cannot start a cluster")

    def is_running(self) -> bool:
        return any(n.alive for n in self.nodes)

    def security_config(self) -> dict[str, str]:
        """Client settings needed to reach the cluster (SASL/SSL for external ones)."""
        return {}

    # -- what a backend can show or do (ask these instead of checking ``backend``) --------------
    @property
    def controls_nodes(self) -> bool:
        """Whether :meth:`stop_node`, :meth:`kill_node` and :meth:`start_node` work here."""
        return False

    def logs(self, node_id: int, lines: int = 40) -> str:
        """The last ``lines`` lines of node ``node_id``'s log."""
        raise NotSupportedError(
            f"the {self.backend} backend cannot show node logs; ask the cluster's operator"
        )

    def data_dir(self, node_id: int) -> Path | None:
        """The folder holding node ``node_id``'s partition folders (``topic-partition``), or
        None where the backend does not expose the nodes' disks."""
        return None

    def quorum_leader(self) -> int | None:
        """The node leading the KRaft controller quorum, where the backend can tell
        without a request (None elsewhere)."""
        return None

    def _known_node(self, node_id: int) -> None:
        """Raise NotFoundError unless ``node_id`` is one of this cluster's nodes."""
        ids = sorted(n.id for n in self.nodes)
        if node_id not in ids:
            raise NotFoundError(f"there is no node {node_id}; nodes are {ids}")

    # -- node control: only where the backend owns the nodes -----------------------------------
    def stop_node(self, node_id: int, *, timeout: float = 30.0) -> None:
        """Stop a node cleanly (SIGTERM: controlled shutdown, leadership moves away)."""
        raise NotSupportedError(f"the {self.backend} backend cannot stop nodes")

    def kill_node(self, node_id: int) -> None:
        """Kill a node abruptly (SIGKILL), as a crash would."""
        raise NotSupportedError(f"the {self.backend} backend cannot kill nodes")

    def start_node(self, node_id: int, *, timeout: float | None = None) -> None:
        """Start a stopped node again and wait until it has rejoined the cluster."""
        raise NotSupportedError(f"the {self.backend} backend cannot start nodes")

    # -- helpers built on the above -------------------------------------------------------------
    def config(self, settings: Mapping[str, Any] | None = None, /,
               **extra: Any) -> dict[str, Any]:
        """A confluent-kafka client config for this cluster: a plain dict in Kafka's own keys
        (print it to see them), ``bootstrap.servers`` and the security settings first.

        ``settings``: a dict in Kafka's own keys, passed as is (``{"group.id": "g"}``); a key
        that is not Kafka's (``{"group_id": ...}``) raises UsageError naming the right one.
        ``extra``: keyword arguments, where Python cannot write a dot, so labkit rewrites
        **every underscore to a dot** (``group_id="g"`` -> ``"group.id": "g"``,
        ``enable_idempotence=True`` -> ``"enable.idempotence": True``), except
        confluent-kafka's callbacks (``on_delivery``, ``error_cb``, ``stats_cb``, ...) and
        ``log_level``; keys with a dot (``**{"linger.ms": 5}``) are kept. On a class cluster
        ``group.id`` and ``transactional.id`` also get the student's prefix (see
        :meth:`name`). A setting given twice raises UsageError. Printed, the config masks
        passwords."""
        conf = client_config({"bootstrap.servers": self.bootstrap_servers,
                              **self.security_config()}, settings, extra)
        for key in ("group.id", "transactional.id"):  # a class student's own names
            if isinstance(conf.get(key), str):
                conf[key] = self.name(conf[key])
        return ClientConfig(conf)

    @property
    def student(self) -> str | None:
        """The class-cluster student this connection signs in as (``LABKIT_CLIENT_CONFIG``),
        else None (the lab's own cluster, or the instructor)."""
        return self.settings.student

    def name(self, name: str) -> str:
        """``name`` as this connection must use it: on a class cluster a student's topics,
        groups and transactional ids start with their name (``lesson00.orders`` ->
        ``s01.lesson00.orders``); elsewhere ``name`` itself. Names labkit creates
        (``fresh_topic``) or is given (a ``group``) get this already."""
        from labkit.kafka.names import qualify

        return qualify(self, name)

    def admin(self) -> AdminClient:
        """A shared AdminClient for this cluster."""
        if self._admin is None:
            self._admin = shared_admin(self.config())
        return self._admin

    def broker_ids(self, timeout: float = 5.0) -> set[int]:
        """The brokers the cluster's metadata lists right now."""
        return set(self.admin().list_topics(timeout=timeout).brokers)

    def leader(self, topic: str, partition: int = 0, *, timeout: float = 5.0) -> int:
        """The node id leading ``topic``/``partition`` (-1 while there is none)."""
        return int(self._partition(topic, partition, timeout).leader)

    def isr(self, topic: str, partition: int = 0, *, timeout: float = 5.0) -> list[int]:
        """The in-sync replicas of ``topic``/``partition``."""
        return list(self._partition(topic, partition, timeout).isrs)

    def _partition(self, topic: str, partition: int, timeout: float) -> Any:
        """One partition's metadata (leader, replicas, isrs), in one metadata request."""
        from labkit.kafka.topics import describe, pick_partitions

        parts = describe(self, topic, timeout=timeout).partitions
        pick_partitions(topic, sorted(parts), partition)  # UnknownTopicError if it has none
        return parts[partition]

    def wait_for(self, what: str, predicate: Any, *, timeout: float = 30.0,
                 interval: float = 0.2) -> Any:
        """Call ``predicate()`` until it returns something truthy and return that; raise
        ClusterTimeoutError naming ``what`` (and the last error) after ``timeout`` seconds.
        Errors while the cluster settles count as "not yet"."""
        from labkit.waiting import poll_until

        return poll_until(what, predicate, timeout=timeout, interval=interval)

    def kafka(
        self, tool: str, *args: str, check: bool = True, timeout: float = 120.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one of Kafka's own tools (``kafka-topics``, ``kafka-consumer-groups``,
        ``kafka-dump-log``, ...) against this cluster and return its output; ``input`` is
        the tool's standard input (e.g. ``kafka-console-producer``'s records, one a line)."""
        from labkit.cluster import tools

        return tools.run_tool(self, tool, list(args), check=check, timeout=timeout,
                              input=input)

    def reset(self, prefix: str = "") -> tuple[list[str], list[str]]:
        """Delete the topics and consumer groups named ``prefix…`` (a lesson's own, e.g.
        ``"lesson01."``), so a notebook starts from a clean slate; returns what was deleted."""
        from labkit.kafka.groups import reset

        return reset(self, self.name(prefix))

    def fresh_topic(self, name: str, *, partitions: int = 3,
                    replication_factor: int | None = None, **config: str) -> str:
        """Create ``name`` empty (deleting an older one): notebooks call this at the top so
        they can run twice. Topic settings go as keywords: ``cleanup_policy="compact"``.
        Replication: the cluster's default (3 on the 3-node lab cluster)."""
        from labkit.kafka.topics import fresh_topic

        conf = {k.replace("_", "."): str(v) for k, v in config.items()}
        return fresh_topic(self, self.name(name), partitions=partitions,
                           replication_factor=replication_factor, config=conf)

    def close(self) -> None:
        """Release the clients labkit cached for this cluster (the cluster keeps running)."""
        from labkit.kafka.clients import release

        if self._admin is not None:
            with contextlib.suppress(LabkitError):  # e.g. a local cluster already forgotten
                release(self.config())
        self._admin = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started_here:
            self.down()
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.backend} {self.bootstrap_servers}>"
