"""The lab's Kafka cluster, behind one interface, whichever backend runs it.

Backends: ``local`` (genuine Kafka as local JVMs, the default), ``external`` (an address from
``LABKIT_BOOTSTRAP_SERVERS``), ``compose`` (docker compose on the repo's docker-compose.yml) and
``testcontainers`` (the same file through testcontainers). ``LABKIT_BACKEND`` chooses; ``auto``
takes external when an address is set, else a running compose cluster, else local.
"""

from __future__ import annotations

import dataclasses
import os

from labkit.cluster.base import Cluster, NodeInfo
from labkit.cluster.state import read_state, remove_state
from labkit.exceptions import BackendError, ClusterNotRunningError, NotSupportedError
from labkit.settings import Settings

__all__ = ["Cluster", "NodeInfo", "connect", "describe", "purge", "resolve", "resolve_backend",
           "running_cluster"]


def resolve_backend(settings: Settings) -> str:
    if settings.backend != "auto":
        return settings.backend
    if settings.bootstrap_servers:
        return "external"
    state = read_state(settings) or {}
    if state.get("backend") in ("compose", "testcontainers"):
        return str(state["backend"])
    return "local"


def _make(settings: Settings, backend: str) -> Cluster:
    if backend == "local":
        from labkit.cluster.local import LocalCluster

        return LocalCluster(settings)
    if backend == "external":
        from labkit.cluster.external import ExternalCluster

        if not settings.bootstrap_servers:
            raise BackendError(
                "the external backend needs LABKIT_BOOTSTRAP_SERVERS (e.g. host:9092); set it"
            )
        return ExternalCluster(settings)
    if backend in ("compose", "testcontainers"):
        from labkit.cluster import compose

        return compose.make(settings, backend)
    raise BackendError(
        f"unknown backend {backend!r}; choose local, external, compose or testcontainers"
    )


def describe(settings: Settings | None = None) -> Cluster:
    """The cluster the settings describe, whether or not it runs (e.g. to read the logs a
    stopped local cluster left behind); :func:`running_cluster` if one runs."""
    settings = settings or Settings.from_env()
    return running_cluster(settings) or _make(settings, resolve_backend(settings))


def purge(settings: Settings | None = None) -> None:
    """Stop the lab's cluster if it runs and delete its data, for the configured backend:
    the local nodes' folders (of the 1- and the 3-node cluster), or the compose volumes.
    An external cluster is not the lab's to purge (NotSupportedError)."""
    settings = settings or Settings.from_env()
    backend = resolve_backend(settings)
    if backend == "external":
        raise NotSupportedError(
            "the external cluster's data is not the lab's to delete; unset "
            "LABKIT_BOOTSTRAP_SERVERS to manage the local one"
        )
    if backend == "local":
        from labkit.cluster.local import LocalCluster

        for n in (1, 3):
            LocalCluster(dataclasses.replace(settings, nodes=n)).down(purge=True)
        return
    _make(settings, backend).down(purge=True)


def running_cluster(settings: Settings | None = None) -> Cluster | None:
    """The cluster the state file describes if any of its nodes runs, else None.
    A stale state file (every pid gone) is removed."""
    settings = settings or Settings.from_env()
    backend = resolve_backend(settings)
    if backend == "external":
        return _make(settings, backend)
    state = read_state(settings)
    if not state or state.get("corrupt"):
        if state:
            remove_state(settings)
        return None
    if backend == "local":
        from labkit.cluster.local import LocalCluster

        n = len(state.get("nodes", [])) or settings.nodes
        local = LocalCluster(dataclasses.replace(settings, nodes=n))
        if local.alive_nodes():
            return local
        remove_state(settings)
        return None
    cluster = _make(settings, backend)
    return cluster if cluster.is_running() else None


def connect(
    *,
    start: bool = True,
    nodes: int | None = None,
    backend: str | None = None,
    **settings_overrides: object,
) -> Cluster:
    """Attach to the lab's running cluster, or start one (``start=True``) and wait until ready.

    >>> cluster = labkit.connect()
    >>> Producer(cluster.config())

    ``client_config="s07.properties"``: a class cluster's student file, as
    ``LABKIT_CLIENT_CONFIG``; it holds for the rest of this process (and the programs it
    starts), so every labkit call after it works as that student.
    """
    settings = Settings.from_env(nodes=nodes, backend=backend, **settings_overrides)
    if settings_overrides.get("client_config") is not None and settings.client_config:
        os.environ["LABKIT_CLIENT_CONFIG"] = str(settings.client_config.resolve())
    cluster = running_cluster(settings)
    if cluster is not None:
        if nodes is not None and len(cluster.nodes) != nodes and cluster.backend == "local":
            raise BackendError(
                f"a {len(cluster.nodes)}-node lab cluster is running; 'labkit down' it before "
                f"asking for {nodes} node(s)"
            )
        return cluster
    if not start:
        raise ClusterNotRunningError("no lab cluster is running; start one with "
                                     "labkit.connect() in a notebook or 'labkit up' in a "
                                     "terminal")
    cluster = _make(settings, resolve_backend(settings))
    cluster.up()
    return cluster


def resolve(cluster: Cluster | None) -> Cluster:
    """``cluster`` if given, else the lab's running cluster (every labkit helper takes an
    optional ``cluster=``). Never starts one: only :func:`connect` does."""
    return cluster if cluster is not None else connect(start=False)
