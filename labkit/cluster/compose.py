"""The ``compose`` and ``testcontainers`` backends: the repo's docker-compose.yml (three KRaft
nodes of the official ``apache/kafka`` image) run by ``docker compose`` or by testcontainers.

Host ports match the local backend (127.0.0.1:19092/20092/21092), so notebooks work unchanged.
``docker compose down`` keeps the nodes' data in named volumes; ``down(purge=True)`` adds ``-v``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labkit.cluster.base import Cluster, NodeInfo
from labkit.cluster.ports import node_port, port_free
from labkit.cluster.readiness import wait_rejoined, wait_until_ready
from labkit.cluster.state import pid_alive, read_state, remove_state, write_state
from labkit.exceptions import BackendError, NodeStartError, NotFoundError, PortInUseError
from labkit.moments import announce
from labkit.settings import Settings

PROJECT = "labkit"
NODE_IDS = (1, 2, 3)
NO_ENGINE = ("no Docker engine answers ('docker info' failed); start Docker or use "
             "LABKIT_BACKEND=local")


def _docker_ok(args: list[str], timeout: float) -> str | None:
    """stdout of a successful ``docker ARGS``; None if the client is missing or fails."""
    try:
        out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def docker_engine_available(timeout: float = 5.0) -> bool:
    """Whether a Docker engine answers (not merely whether the ``docker`` client exists)."""
    return bool((_docker_ok(["info", "--format", "{{.ServerVersion}}"], timeout) or "").strip())


def compose_plugin_available(timeout: float = 10.0) -> bool:
    """Whether the client has Compose v2 (``docker compose``); it needs no engine."""
    return _docker_ok(["compose", "version"], timeout) is not None


def compose_file(settings: Settings | None = None) -> Path:
    """``settings.compose_file`` (``LABKIT_COMPOSE_FILE``, default the repo's
    docker-compose.yml); BackendError if it is not there (e.g. labkit installed as a wheel)."""
    path = (settings or Settings.from_env()).compose_file
    if not path.is_file():
        raise BackendError(f"the compose file {path} does not exist; set LABKIT_COMPOSE_FILE "
                           "to the labkit repo's docker-compose.yml")
    return path


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """Set the environment variable ``name`` for the duration of the block, then restore it."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def make(settings: Settings, backend: str) -> Cluster:
    """The cluster object for ``backend`` ('compose' or 'testcontainers'), or BackendError."""
    path = compose_file(settings)
    if backend == "testcontainers":
        _import_testcontainers()
    if not docker_engine_available():
        raise BackendError(NO_ENGINE)
    if not compose_plugin_available():
        raise BackendError("the docker client has no 'compose' command; install Docker "
                           "Compose v2 or use LABKIT_BACKEND=local")
    cls = TestcontainersCluster if backend == "testcontainers" else ComposeCluster
    return cls(settings, path)


def _import_testcontainers() -> Any:
    try:
        from testcontainers.compose import DockerCompose
    except ImportError:
        raise BackendError("the testcontainers backend needs the testcontainers package; "
                           "pip install 'labkit[docker]' or use LABKIT_BACKEND=compose") from None
    return DockerCompose


def parse_ps(text: str) -> list[dict[str, Any]]:
    """``docker compose ps --format json``: a JSON array (Compose < 2.21) or one object a line."""
    text = text.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[-1]


class ComposeCluster(Cluster):
    """Three Kafka containers run by ``docker compose``; see :func:`labkit.connect`."""

    backend = "compose"

    def __init__(self, settings: Settings, path: Path | None = None) -> None:
        super().__init__(settings)
        self.compose_file = path or compose_file(settings)
        self._last_check = 0.0

    # -- docker compose ----------------------------------------------------------------------
    def _run(self, *args: str, timeout: float = 120.0,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-f", str(self.compose_file), "-p", PROJECT, *args]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise BackendError("the 'docker' client is not installed; install Docker or use "
                               "LABKIT_BACKEND=local") from None
        except subprocess.TimeoutExpired:
            raise BackendError(f"'docker compose {args[0]}' did not finish within "
                               f"{timeout:.0f}s; is the Docker engine stuck?") from None
        if check and out.returncode != 0:
            raise BackendError(f"'docker compose {' '.join(args)}' failed: "
                               f"{_last_line(out.stderr or out.stdout)}")
        return out

    def _containers(self) -> list[dict[str, Any]]:
        out = self._run("ps", "--all", "--format", "json", check=False, timeout=30)
        try:
            return parse_ps(out.stdout) if out.returncode == 0 else []
        except ValueError:
            return []

    @staticmethod
    def service(node_id: int) -> str:
        if node_id not in NODE_IDS:
            raise NotFoundError(f"node {node_id} is not part of this 3-node cluster; nodes are "
                                f"{list(NODE_IDS)}")
        return f"kafka-{node_id}"

    @staticmethod
    def default_port(node_id: int) -> int:
        return node_port(node_id)

    # -- what this backend can show and do -------------------------------------------------------
    @property
    def controls_nodes(self) -> bool:
        return True

    def logs(self, node_id: int, lines: int = 40) -> str:
        """The end of the node's container log (``docker compose logs --tail``)."""
        out = self._run("logs", "--no-color", "--no-log-prefix", "--tail", str(lines),
                        self.service(node_id), timeout=30)
        return (out.stdout + out.stderr).rstrip("\n")

    # -- what the cluster is ---------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.default_port(i)}" for i in NODE_IDS)

    @property
    def nodes(self) -> list[NodeInfo]:
        found = []
        for c in self._containers():
            m = re.fullmatch(r"kafka-(\d+)", str(c.get("Service", "")))
            if m:
                i = int(m.group(1))
                found.append(NodeInfo(id=i, host="127.0.0.1", port=self.default_port(i),
                                      alive=str(c.get("State", "")).lower() == "running"))
        return sorted(found, key=lambda n: n.id)

    # -- start and stop --------------------------------------------------------------------------
    def up(self) -> ComposeCluster:
        """``docker compose up -d``, then wait until a replicated write succeeds."""
        state = read_state(self.settings) or {}
        if state.get("backend") == "local" and any(
                pid_alive(n.get("pid"), "kafka.Kafka") for n in state.get("nodes", [])):
            raise BackendError("a local lab cluster is running on the same ports; stop it "
                               "with 'labkit down' before starting the compose one")
        alive = {n.id for n in self.nodes if n.alive}
        if alive == set(NODE_IDS):
            return self
        for i in NODE_IDS:
            if i not in alive and not port_free(self.default_port(i)):
                raise PortInUseError(
                    f"port {self.default_port(i)} on 127.0.0.1 is taken by another process; "
                    "free it ('labkit down' stops a local lab cluster) and try again")
        self._start()
        write_state(self.settings, {
            "backend": self.backend, "project": PROJECT, "compose_file": str(self.compose_file),
            "kafka_version": self.settings.kafka_version,
            "nodes": [{"id": i, "port": self.default_port(i), "service": self.service(i)}
                      for i in NODE_IDS],
        })
        try:
            self._wait_ready()
        except BaseException:
            if not alive:
                self._stop(purge=False)
                remove_state(self.settings)
            raise
        self.started_here = True
        return self

    def _start(self) -> None:
        self._run("up", "-d", timeout=1800)  # may pull the images first

    def _stop(self, *, purge: bool) -> None:
        self._run("down", *(["-v"] if purge else []), timeout=300)

    def down(self, *, purge: bool = False) -> None:
        """``docker compose down`` (``-v`` with ``purge``: the nodes' data goes too)."""
        self._stop(purge=purge)
        remove_state(self.settings)
        self.close()

    def _check_alive(self) -> None:
        if time.monotonic() - self._last_check < 2.0:  # each check runs 'docker compose ps'
            return
        self._last_check = time.monotonic()
        for c in self._containers():
            if str(c.get("State", "")).lower() in ("exited", "dead"):
                raise NodeStartError(
                    f"the container {c.get('Service')} exited during start; see "
                    f"'docker compose -p {PROJECT} logs {c.get('Service')}'")

    def _logs_hint(self) -> str:
        out = self._run("logs", "--no-color", "--tail", "3", *map(self.service, NODE_IDS),
                        check=False, timeout=30)
        return out.stdout.strip()

    def _wait_ready(self) -> float:
        return wait_until_ready(self.config(), set(NODE_IDS), timeout=self.settings.start_timeout,
                                check_alive=self._check_alive, logs_hint=self._logs_hint,
                                min_isr=2)

    # -- node control ----------------------------------------------------------------------------
    def stop_node(self, node_id: int, *, timeout: float = 30.0) -> None:
        announce(f"node {node_id} stopped")
        self._run("stop", "-t", str(int(timeout)), self.service(node_id), timeout=timeout + 60)

    def kill_node(self, node_id: int) -> None:
        announce(f"node {node_id} killed")
        self._run("kill", "-s", "SIGKILL", self.service(node_id))

    def start_node(self, node_id: int, *, timeout: float | None = None) -> None:
        self._run("start", self.service(node_id))
        announce(f"node {node_id} started")
        wait_rejoined(self, [node_id], timeout=timeout or self.settings.start_timeout)


class TestcontainersCluster(ComposeCluster):
    """The same docker-compose.yml, started through ``testcontainers.compose.DockerCompose``
    (``up --wait``: it also waits for the containers' health checks)."""

    __test__ = False  # not a pytest test class, despite its name
    backend = "testcontainers"

    def _compose(self) -> Any:
        docker_compose = _import_testcontainers()
        return docker_compose(context=str(self.compose_file.parent),
                              compose_file_name=self.compose_file.name)

    def _call(self, method: str, **kwargs: Any) -> None:
        # DockerCompose passes no project name: the environment gives it ours, as '-p' does
        with _environ("COMPOSE_PROJECT_NAME", PROJECT):
            try:
                getattr(self._compose(), method)(**kwargs)
            except (OSError, subprocess.SubprocessError) as exc:
                err = getattr(exc, "stderr", None)
                if isinstance(err, bytes):
                    err = err.decode(errors="replace")
                raise BackendError(f"testcontainers could not {method} {self.compose_file.name}: "
                                   f"{_last_line(err or str(exc))}; try LABKIT_BACKEND=compose"
                                   ) from None

    def _start(self) -> None:
        self._call("start")

    def _stop(self, *, purge: bool) -> None:
        if purge:
            self._call("stop", down=True)  # 'down --volumes'
        else:  # DockerCompose.stop(down=True) always deletes the volumes: keep them here
            super()._stop(purge=False)
