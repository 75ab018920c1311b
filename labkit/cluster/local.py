"""The local backend: genuine Kafka nodes as JVM processes on 127.0.0.1, in KRaft mode.

Each node is a combined broker+controller (``process.roles=broker,controller``) with a static
quorum; all nodes start together. Nodes run in sessions of their own and log to files, so they
outlive the notebook kernel or shell that started them and never hold its stdout/stderr.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from labkit.cluster.base import Cluster, NodeInfo
from labkit.cluster.jars import file_lock, find_libs
from labkit.cluster.java import find_java
from labkit.cluster.jvm import Jvm, child_env
from labkit.cluster.ports import choose_ports, port_free
from labkit.cluster.properties import broker_properties, new_cluster_id
from labkit.cluster.readiness import wait_rejoined, wait_until_ready
from labkit.cluster.state import (
    CHILDREN,
    pid_alive,
    read_state,
    remove_state,
    signal_group,
    stop_pids,
    tail,
    write_state,
)
from labkit.exceptions import (
    ClusterNotRunningError,
    KafkaToolError,
    LabkitError,
    NodeStartError,
    NotFoundError,
    PortInUseError,
)
from labkit.moments import announce
from labkit.settings import Settings
from labkit.waiting import poll_until

__all__ = ["FEATURES_MARKER", "LocalCluster", "broker_properties", "new_cluster_id",
           "train_cds_archive"]

PROCESS_MARKER = "kafka.Kafka"
FEATURES_MARKER = "features.version"  # in the cluster dir: the release whose levels are final


class LocalCluster(Cluster):
    """Kafka nodes run as local JVMs; see :func:`labkit.connect`."""

    backend = "local"

    def __init__(
        self, settings: Settings, *, jvm: Jvm | None = None, train_cds: Path | None = None
    ) -> None:
        super().__init__(settings)
        self._jvm = jvm
        self._train_cds = train_cds
        self._state: dict[str, Any] = read_state(settings) or {}

    # -- paths and state ---------------------------------------------------------------------
    @property
    def cluster_dir(self) -> Path:
        return self.settings.home / "clusters" / f"{self.settings.nodes}-node"

    def node_dir(self, node_id: int) -> Path:
        return self.cluster_dir / f"node-{node_id}"

    @property
    def jvm(self) -> Jvm:
        if self._jvm is None:
            self._jvm = Jvm(find_java(), find_libs(self.settings))
        return self._jvm

    def _node_state(self, node_id: int) -> dict[str, Any]:
        """The node's entry in the state file, read afresh: another process (``labkit up``,
        a second kernel) may have restarted it under a new pid."""
        fresh = read_state(self.settings)
        if fresh and not fresh.get("corrupt"):
            self._state = fresh
        for node in self._state.get("nodes", []):
            if node["id"] == node_id:
                return node
        ids = sorted(n["id"] for n in self._state.get("nodes", []))
        if not ids:
            raise ClusterNotRunningError("no lab cluster is running; start one with 'labkit up'")
        raise NotFoundError(
            f"node {node_id} is not part of this {len(ids)}-node cluster; nodes are {ids}"
        )

    def _marker(self, node: dict[str, Any]) -> str:
        return str(Path(node["dir"]) / "node.properties")

    @property
    def bootstrap_servers(self) -> str:
        if not self._state.get("nodes"):
            raise ClusterNotRunningError("no lab cluster is running; start one with 'labkit up'")
        return ",".join(f"127.0.0.1:{n['port']}" for n in self._state["nodes"])

    @property
    def nodes(self) -> list[NodeInfo]:
        return [
            NodeInfo(
                id=n["id"],
                host="127.0.0.1",
                port=n["port"],
                controller_port=n["controller_port"],
                pid=n.get("pid"),
                directory=Path(n["dir"]),
                alive=pid_alive(n.get("pid"), self._marker(n)),
            )
            for n in self._state.get("nodes", [])
        ]

    def alive_nodes(self) -> list[int]:
        return [n.id for n in self.nodes if n.alive]

    def log_path(self, node_id: int) -> Path:
        return self.node_dir(node_id) / "server.log"

    # -- what this backend can show and do -------------------------------------------------------
    @property
    def controls_nodes(self) -> bool:
        return True

    def _node_ids(self) -> list[int]:
        """The nodes of the running cluster, else those the settings describe."""
        return sorted(n["id"] for n in self._state.get("nodes", [])) or list(
            range(1, self.settings.nodes + 1))

    def _known_node(self, node_id: int) -> None:
        if node_id not in self._node_ids():
            raise NotFoundError(f"there is no node {node_id}; nodes are {self._node_ids()}")

    def logs(self, node_id: int, lines: int = 40) -> str:
        """The last ``lines`` lines of the node's ``server.log``."""
        self._known_node(node_id)
        path = self.log_path(node_id)
        if not path.exists():
            raise NotFoundError(
                f"node {node_id} has no log yet ({path}); start the cluster with 'labkit up'")
        return tail(path, lines)

    def data_dir(self, node_id: int) -> Path:
        """``<node dir>/data``: the node's ``log.dirs``, with its ``topic-partition`` folders."""
        self._known_node(node_id)
        return self.node_dir(node_id) / "data"

    def quorum_leader(self) -> int | None:
        """The KRaft quorum leader as the live nodes last recorded it (their
        ``__cluster_metadata-0/quorum-state`` files, highest epoch wins); None if none says."""
        best: tuple[int, int] | None = None
        for n in self.nodes:
            if not n.alive:
                continue
            path = self.data_dir(n.id) / "__cluster_metadata-0" / "quorum-state"
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):  # not written yet, or being rewritten
                continue
            epoch, leader = int(state.get("leaderEpoch", -1)), int(state.get("leaderId", -1))
            if leader >= 0 and (best is None or epoch > best[0]):
                best = (epoch, leader)
        return best[1] if best else None

    # -- start -----------------------------------------------------------------------------------
    def up(self) -> LocalCluster:
        """Start the cluster (or the nodes of it that are down) and wait until it is ready."""
        with file_lock(self.settings.home / ".cluster.lock"):
            self._state = read_state(self.settings) or {}
            if self._state.get("backend") not in (None, self.backend) or self._state.get("corrupt"):
                remove_state(self.settings)
                self._state = {}
            if self._state.get("nodes") and len(self._state["nodes"]) != self.settings.nodes:
                if self.alive_nodes():
                    raise LabkitError(
                        f"a {len(self._state['nodes'])}-node lab cluster is running; stop it "
                        "with 'labkit down' before starting one with "
                        f"{self.settings.nodes} node(s)"
                    )
                self._state = {}
            if self._state.get("nodes") and not self.alive_nodes():
                self._state = {}  # stale: every pid is gone
            if self._state.get("nodes") and len(self.alive_nodes()) == len(self._state["nodes"]):
                return self
            jvm = self.jvm
            if self._train_cds is None and not jvm.cds_archive.exists():
                train_cds_archive(self.settings, jvm)
            started = self._start_nodes(jvm)
            try:
                self._wait_ready()
                wait_rejoined(self, started, timeout=self.settings.start_timeout,  # restarted
                              check_alive=self._check_node_alive)
            except BaseException:
                stop_pids({self._node_state(i)["pid"]: PROCESS_MARKER for i in started}, 10)
                if len(started) == self.settings.nodes:
                    remove_state(self.settings)
                    self._state = {}
                raise
            self.started_here = True
            self._finalize_features()
            return self

    def _finalize_features(self) -> None:
        """Bring the cluster's feature levels to those of the running Kafka release, as a fresh
        format would, except ``kraft.version`` (the quorum stays static). Needed once after the
        jars changed: a cluster formatted by Kafka 4.1 keeps metadata.version 4.1-IV1 and
        share.version=0 (no share groups) when its nodes restart on 4.4 jars."""
        marker = self.cluster_dir / FEATURES_MARKER
        version = self.jvm.kafka_version
        if marker.exists() and marker.read_text().strip() == version:
            return
        mapping = self.kafka("kafka-features", "version-mapping").stdout  # this release's levels
        features = [line.split()[0] for line in mapping.splitlines()
                    if "=" in line and not line.startswith("kraft.version")]
        out = self.kafka("kafka-features", "upgrade",
                         *[a for f in features for a in ("--feature", f)], check=False)
        if out.returncode != 0:
            last = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise KafkaToolError(
                f"could not bring the cluster's features to Kafka {version}'s levels "
                f"({last[0]}); 'labkit down --purge' and 'labkit up' start it fresh"
            )
        marker.write_text(version + "\n")

    def _start_nodes(self, jvm: Jvm) -> list[int]:
        """Launch every node that is not running (all together: a quorum needs its voters)."""
        n = self.settings.nodes
        alive = set(self.alive_nodes()) if self._state.get("nodes") else set()
        if alive:
            ports = {x["id"]: (x["port"], x["controller_port"]) for x in self._state["nodes"]}
            for i, (p, c) in ports.items():
                if i not in alive and not (port_free(p) and port_free(c)):
                    raise PortInUseError(
                        f"node {i} cannot restart: port {p} or {c} on 127.0.0.1 is taken by "
                        "another process; free it or run 'labkit down' and 'labkit up'"
                    )
        else:
            ports = self._choose_ports()
        cluster_id_file = self.cluster_dir / "cluster.id"
        if not cluster_id_file.exists():
            self.cluster_dir.mkdir(parents=True, exist_ok=True)
            cluster_id_file.write_text(new_cluster_id())
        cluster_id = cluster_id_file.read_text().strip()
        to_start = [i for i in range(1, n + 1) if i not in alive]
        fresh = not alive and not any(
            (self.node_dir(i) / "data" / "meta.properties").exists() for i in to_start)

        def prepare(i: int) -> None:
            d = self.node_dir(i)
            (d / "data").mkdir(parents=True, exist_ok=True)
            props = d / "node.properties"
            props.write_text(self._node_properties(i, ports, d))
            if not (d / "data" / "meta.properties").exists():
                self._format(jvm, props, cluster_id)

        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(prepare, to_start))
        if fresh:  # formatted just now: the features are this release's already
            (self.cluster_dir / FEATURES_MARKER).write_text(jvm.kafka_version + "\n")

        nodes = {x["id"]: x for x in self._state.get("nodes", [])}
        for i in to_start:
            d = self.node_dir(i)
            nodes[i] = {
                "id": i,
                "port": ports[i][0],
                "controller_port": ports[i][1],
                "dir": str(d),
                "pid": self._launch(jvm, i),
            }
        self._state = {
            "backend": self.backend,
            "kafka_version": self.settings.kafka_version,
            "cluster_id": cluster_id,
            "cluster_dir": str(self.cluster_dir),
            "nodes": [nodes[i] for i in sorted(nodes)],
        }
        write_state(self.settings, self._state)
        return to_start

    # -- what a node is given (a class cluster gives more: see labkit.cluster.classroom) ---------
    def _choose_ports(self) -> dict[int, tuple[int, int]]:
        return choose_ports(self.settings)

    def _node_properties(self, node_id: int, ports: dict[int, tuple[int, int]],
                         node_dir: Path) -> str:
        return broker_properties(node_id, ports, node_dir / "data", self.settings.nodes)

    def _format(self, jvm: Jvm, properties: Path, cluster_id: str) -> None:
        jvm.format_storage(properties, cluster_id)

    def _jvm_flags(self, node_id: int) -> list[str]:
        return []

    def _launch(self, jvm: Jvm, node_id: int) -> int:
        d = self.node_dir(node_id)
        with contextlib.suppress(FileNotFoundError):
            (d / "server.log").rename(d / "server.log.previous")
        cmd = jvm.broker_cmd(
            d / "node.properties", d, heap_mb=self.settings.heap_mb, train_cds=self._train_cds,
            extra=self._jvm_flags(node_id),
        )
        with open(d / "stdout.log", "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=d,
                env=child_env(),
                start_new_session=True,
                close_fds=True,
            )
        CHILDREN[proc.pid] = proc  # the handle tells reliably whether it runs, and reaps it
        return proc.pid

    def _check_alive(self, only: set[int] | None = None) -> None:
        for node in self._state.get("nodes", []):
            if only is not None and node["id"] not in only:
                continue
            if not pid_alive(node["pid"], self._marker(node)):
                raise self._start_failure(node)

    def _check_node_alive(self, node_id: int) -> None:
        self._check_alive(only={node_id})

    def _start_failure(self, node: dict[str, Any]) -> LabkitError:
        d = Path(node["dir"])
        log = tail(d / "server.log", 20) or tail(d / "stdout.log", 20)
        text = log + tail(d / "stdout.log", 5)
        if "Address already in use" in text or "BindException" in text:
            return PortInUseError(
                f"Kafka node {node['id']} could not listen on 127.0.0.1:{node['port']} or "
                f":{node['controller_port']}: the port is taken; free it or run 'labkit up' "
                "again to pick other ports"
            )
        child = CHILDREN.get(node["pid"])
        code = ""
        if child is not None and child.returncode is not None:
            code = f" with exit code {child.returncode}"
        return NodeStartError(
            f"Kafka node {node['id']} exited during start{code}; last 20 lines of "
            f"{d / 'server.log'}:\n{log}\nHint: 'labkit down --purge' starts from fresh data"
        )

    def _logs_hint(self) -> str:
        return "\n".join(
            f"node {n['id']}: {tail(Path(n['dir']) / 'server.log', 3)}"
            for n in self._state.get("nodes", [])
        )

    def _wait_ready(self, timeout: float | None = None) -> float:
        return wait_until_ready(
            self.config(),
            {n["id"] for n in self._state["nodes"]},
            timeout=timeout or self.settings.start_timeout,
            check_alive=self._check_alive,
            logs_hint=self._logs_hint,
            min_isr=2 if self.settings.nodes >= 3 else 1,
        )

    # -- stop ------------------------------------------------------------------------------------
    def down(self, *, purge: bool = False, timeout: float = 30.0) -> None:
        with file_lock(self.settings.home / ".cluster.lock"):
            self._state = read_state(self.settings) or {}
            nodes = self._state.get("nodes", [])
            if nodes:
                self.close()  # release the clients while the nodes' addresses are known
                stop_pids({n["pid"]: self._marker(n) for n in nodes if n.get("pid")}, timeout)
            remove_state(self.settings)
            self._state = {}
            if purge:
                shutil.rmtree(self.cluster_dir, ignore_errors=True)

    # -- node control ----------------------------------------------------------------------------
    def stop_node(self, node_id: int, *, timeout: float = 30.0) -> None:
        node = self._node_state(node_id)
        announce(f"node {node_id} stopped")
        stop_pids({node["pid"]: self._marker(node)}, timeout)

    def kill_node(self, node_id: int) -> None:
        import signal

        node = self._node_state(node_id)
        announce(f"node {node_id} killed")
        if pid_alive(node["pid"], self._marker(node)):
            signal_group(node["pid"], signal.SIGKILL)
        poll_until(f"node {node_id} (pid {node['pid']}) to exit after SIGKILL",
                   lambda: not pid_alive(node["pid"], self._marker(node)), timeout=10,
                   interval=0.05, hint="the process may be stuck in the kernel; 'ps' shows it")

    def start_node(self, node_id: int, *, timeout: float | None = None) -> None:
        node = self._node_state(node_id)
        if pid_alive(node["pid"], self._marker(node)):
            return
        with file_lock(self.settings.home / ".cluster.lock"):
            node["pid"] = self._launch(self.jvm, node_id)
            write_state(self.settings, self._state)
        announce(f"node {node_id} started")
        wait_rejoined(self, [node_id], timeout=timeout or self.settings.start_timeout,
                      check_alive=self._check_node_alive)


def train_cds_archive(settings: Settings, jvm: Jvm) -> Path | None:
    """Make the AppCDS archive: run a throw-away 1-node cluster once with
    ``-XX:ArchiveClassesAtExit`` until it is ready, then stop it (the JVM writes the archive
    as it exits). Later nodes and tools start about twice as fast with it."""
    target = jvm.cds_archive
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".jsa.tmp")
    train_home = target.parent / "train"
    shutil.rmtree(train_home, ignore_errors=True)
    train = LocalCluster(
        Settings(
            home=train_home,
            nodes=1,
            heap_mb=settings.heap_mb,
            start_timeout=settings.start_timeout,
            kafka_version=settings.kafka_version,
        ),
        jvm=jvm,
        train_cds=tmp,
    )
    try:
        train.up()
        train.down(purge=True)
        if tmp.exists() and tmp.stat().st_size > 0:
            tmp.rename(target)
            return target
        return None
    finally:
        with contextlib.suppress(Exception):
            train.down(purge=True)
        shutil.rmtree(train_home, ignore_errors=True)
        tmp.unlink(missing_ok=True)
