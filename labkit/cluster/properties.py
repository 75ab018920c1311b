"""What a lab node is told: its ``node.properties`` (each setting explained, the lab-only
ones marked) and a fresh KRaft cluster id. Pure functions: nothing here starts a process."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

__all__ = ["broker_properties", "new_cluster_id"]


def broker_properties(
    node_id: int, ports: dict[int, tuple[int, int]], data_dir: Path, nodes: int
) -> str:
    """``node.properties`` for one node of an n-node lab cluster, each setting explained."""
    port, cport = ports[node_id]
    voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_p, c) in sorted(ports.items()))
    rf = 3 if nodes >= 3 else 1
    min_isr = 2 if nodes >= 3 else 1
    lines = {
        "# KRaft, combined mode: every node is a broker and a controller (no ZooKeeper)": None,
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "# Loopback only: the lab never listens on 0.0.0.0": None,
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "# Replication: 3 copies, writes with acks=all need 2 in sync (one node may fail)": None,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "# Few internal partitions: a laptop cluster starts and rebalances faster": None,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.num.partitions": 3,
        "num.partitions": 3,
        "# Topics are created on purpose: a typo in a topic name fails instead of making one": None,
        "auto.create.topics.enable": "false",
        "# Share groups (KIP-932) are on in a freshly formatted 4.4 cluster": None,
        "# (share.version=2 in 'labkit kafka kafka-features describe'); their state topic": None,
        "# is sized like the other internal topics (default: 50 partitions, 3 copies)": None,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        "share.coordinator.state.topic.num.partitions": 3,
        "# Share groups at a lesson's pace (defaults: 15 s lock minimum, 5 s heartbeats,": None,
        "# 45 s sessions): a hung member's records come back after 5 s, members join": None,
        "# within a second or two, a killed member leaves its share group after 6 s": None,
        "group.share.min.record.lock.duration.ms": 5000,
        "group.share.heartbeat.interval.ms": 1000,
        "group.share.min.heartbeat.interval.ms": 500,
        "group.share.session.timeout.ms": 6000,
        "group.share.min.session.timeout.ms": 3000,
        "# Consumer groups form at once instead of waiting 3 s for more members": None,
        "group.initial.rebalance.delay.ms": 0,
        "# Consumer groups of the new protocol (KIP-848, group.protocol=consumer) rebalance": None,
        "# within a second or two: members heartbeat every second (default 5 s) and a member": None,
        "# that stopped heartbeating is removed after 6 s (default 45 s). Lab values: a busy": None,
        "# production cluster keeps the defaults. Classic groups set theirs in the client": None,
        "# (session.timeout.ms), and may go as low as 3 s here (default minimum 6 s).": None,
        "group.consumer.heartbeat.interval.ms": 1000,
        "group.consumer.min.heartbeat.interval.ms": 500,
        "group.consumer.session.timeout.ms": 6000,
        "group.consumer.min.session.timeout.ms": 3000,
        "group.min.session.timeout.ms": 3000,
        "# A crashed node (SIGKILL) is fenced, and its partitions get new leaders,": None,
        "# after 6 s without a heartbeat (default 9 s, heartbeats every 2 s). Lab": None,
        "# values: lesson 06 crashes nodes on purpose, and a restart after a kill": None,
        "# waits for the old session to expire. Heartbeats every second leave 6": None,
        "# missed ones of slack on a busy laptop.": None,
        "broker.session.timeout.ms": 6000,
        "broker.heartbeat.interval.ms": 1000,
        "# Retention and compaction become visible within seconds, not minutes": None,
        "log.retention.check.interval.ms": 1000,
        "log.cleaner.backoff.ms": 1000,
        "log.initial.task.delay.ms": 0,
        "# A small heap: the cleaner's dedupe buffer is 128 MiB by default": None,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "# Fewer threads on a 2-core laptop": None,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 4,
    }
    out = []
    for key, value in lines.items():
        out.append(key if value is None else f"{key}={value}")
    return "\n".join(out) + "\n"


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding. Never one that
    starts with "-" (1 in 64 would): the storage tool would take it for an option, and
    Kafka's own ``Uuid.randomUuid`` avoids them for the same reason."""
    while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))[0] == "-":
        pass
    return cid


