"""The local backend against real Kafka nodes: the shared session cluster and, for start/stop
and failure cases, small clusters of the tests' own (private LABKIT_HOME)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicCollection

import labkit
from labkit.cluster.local import LocalCluster, broker_properties, new_cluster_id
from labkit.cluster.state import pid_alive, read_state, write_state
from labkit.exceptions import NodeStartError, PortInUseError
from labkit.settings import Settings


def _consume(cluster: labkit.Cluster, topic: str, n: int, timeout: float = 30) -> list[bytes]:
    c = Consumer(cluster.config(group_id=f"g-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest"))
    c.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < n and time.monotonic() < deadline:
            for m in c.consume(n - len(got), timeout=0.5):
                if m.error() is None:
                    got.append(m.value())
    finally:
        c.close()
    return got


def _produce(cluster: labkit.Cluster, topic: str, values: list[bytes]) -> None:
    p = Producer(cluster.config(acks="all", enable_idempotence=True))
    errors: list[object] = []
    for v in values:
        p.produce(topic, v, key=v, on_delivery=lambda e, _m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors, errors


def test_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """kafka-storage would read "-…" as an option: 1 random id in 64, and it did fail a CI run."""
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" + bytes(15))])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))
    assert new_cluster_id() == "EAAAAAAAAAAAAAAAAAAAAA"  # the second draw; the first was "-AAA…"


def test_topics_are_never_created_by_accident(cluster: labkit.Cluster) -> None:
    name = f"typo-{uuid.uuid4().hex[:8]}"
    p = Producer(cluster.config(message_timeout_ms=3000))
    errors: list[object] = []
    p.produce(name, b"x", on_delivery=lambda e, _m: errors.append(e))
    p.flush(10)
    assert errors and errors[0] is not None  # refused: the topic does not exist
    with pytest.raises(KafkaException):
        cluster.admin().describe_topics(TopicCollection([name]))[name].result(10)


def test_properties_are_loopback_only_and_sized_for_replication(tmp_path: Path) -> None:
    props = broker_properties(2, {1: (1, 2), 2: (3, 4), 3: (5, 6)}, tmp_path, 3)
    assert "listeners=PLAINTEXT://127.0.0.1:3,CONTROLLER://127.0.0.1:4" in props
    assert "controller.quorum.voters=1@127.0.0.1:2,2@127.0.0.1:4,3@127.0.0.1:6" in props
    assert "min.insync.replicas=2" in props and "default.replication.factor=3" in props
    settings = [line for line in props.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if "0.0.0.0" in line]
    assert "min.insync.replicas=1" in broker_properties(1, {1: (1, 2)}, tmp_path, 1)


def test_round_trip(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    values = [f"pizza-{i}".encode() for i in range(50)]
    _produce(cluster, topic, values)
    assert sorted(_consume(cluster, topic, 50)) == sorted(values)


def test_status_lists_every_node_ready(cluster: labkit.Cluster) -> None:
    assert cluster.broker_ids() == {n.id for n in cluster.nodes}
    assert all(n.alive for n in cluster.nodes)


def test_attach_from_a_second_process(cluster: labkit.Cluster) -> None:
    code = ("import labkit, time; t=time.monotonic(); c=labkit.connect(start=False); "
            "print(c.bootstrap_servers, sorted(c.broker_ids()), c.started_here)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ids = sorted(n.id for n in cluster.nodes)
    assert out.stdout.split() == [cluster.bootstrap_servers, *str(ids).split(), "False"]


def test_leader_failover_and_rejoin(cluster: labkit.Cluster, topic: str) -> None:
    if len(cluster.nodes) < 3:
        pytest.skip("needs the 3-node cluster")
    cluster.fresh_topic(topic, partitions=1, replication_factor=3)
    cluster.wait_for("3 in-sync replicas", lambda: len(cluster.isr(topic)) == 3)
    _produce(cluster, topic, [b"before-%d" % i for i in range(20)])
    old = cluster.leader(topic)
    cluster.kill_node(old)
    try:
        new = cluster.wait_for("a new leader", lambda: (lead := cluster.leader(topic)) not in
                               (old, -1) and lead, timeout=60)
        assert new != old
        _produce(cluster, topic, [b"after-%d" % i for i in range(20)])
        got = _consume(cluster, topic, 40)
        assert len(got) == 40 and {b"before-0", b"after-19"} <= set(got)
    finally:
        cluster.start_node(old)
    cluster.wait_for(f"node {old} back in the ISR", lambda: old in cluster.isr(topic), timeout=60)
    assert sorted(cluster.isr(topic)) == [1, 2, 3]


def test_start_node_after_a_kill_waits_for_the_new_process(cluster: labkit.Cluster) -> None:
    """Regression: the other nodes list a killed node until its session expires, so
    start_node returned at once while the new process was still starting."""
    if len(cluster.nodes) < 3 or cluster.backend != "local":
        pytest.skip("needs the local 3-node cluster")
    from confluent_kafka.admin import AdminClient

    node = next(n for n in cluster.nodes if n.id == 3)
    cluster.kill_node(3)
    cluster.start_node(3)
    own = AdminClient({"bootstrap.servers": f"127.0.0.1:{node.port}", "log_level": 0})
    assert 3 in own.list_topics(timeout=5).brokers  # node 3 serves, and knows itself
    for other in cluster.nodes:
        seen = AdminClient({"bootstrap.servers": f"127.0.0.1:{other.port}", "log_level": 0})
        assert seen.list_topics(timeout=5).brokers.keys() == {1, 2, 3}, other.id


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [1, 3])
def test_own_cluster_starts_and_stops_cleanly(own_home: Path, nodes: int) -> None:
    with labkit.connect(nodes=nodes) as c:
        assert c.started_here and len(c.nodes) == nodes
        pids = [n.pid for n in c.nodes]
        assert c.broker_ids() == set(range(1, nodes + 1))
        # a second connect() attaches instead of starting another cluster
        again = labkit.connect(start=False)
        assert again.bootstrap_servers == c.bootstrap_servers and not again.started_here
    assert not any(pid_alive(p) for p in pids)
    assert read_state(Settings.from_env()) is None


@pytest.mark.slow
def test_taken_port_is_reported(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        port = next(p for p in range(41000, 45000, 7) if s.connect_ex(("127.0.0.1", p)) != 0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        monkeypatch.setenv("LABKIT_BASE_PORT", str(port))
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is taken"):
            labkit.connect(nodes=1)
    assert read_state(Settings.from_env()) is None


@pytest.mark.slow
def test_node_exiting_during_start_shows_its_log(own_home: Path) -> None:
    settings = Settings.from_env(nodes=1)
    data = LocalCluster(settings).node_dir(1) / "data"
    data.mkdir(parents=True)
    # storage formatted for another node id: Kafka refuses to start with it
    (data / "meta.properties").write_text("version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n"
                                          "node.id=7\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAA\n")
    with pytest.raises(NodeStartError, match="Kafka node 1 exited during start") as info:
        labkit.connect(nodes=1)
    assert "last 20 lines" in str(info.value)
    assert len(str(info.value).splitlines()) > 3  # the log lines are in the message
    assert read_state(settings) is None
    out = subprocess.run(["pgrep", "-f", str(own_home)], capture_output=True, text=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
def test_stale_state_file_is_cleaned_and_a_new_cluster_starts(own_home: Path) -> None:
    settings = Settings.from_env(nodes=1)
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_state(settings, {"backend": "local", "nodes": [
        {"id": 1, "pid": dead.pid, "port": 1, "controller_port": 2, "dir": str(own_home)}]})
    assert labkit.cluster.running_cluster(settings) is None
    assert read_state(settings) is None  # the stale file is gone
    with labkit.connect(nodes=1) as c:
        assert c.started_here


def test_a_bad_topic_setting_is_reported_at_once(cluster: labkit.Cluster, topic: str) -> None:
    from labkit.exceptions import LabkitError

    t0 = time.monotonic()
    with pytest.raises(LabkitError, match=f"topic '{topic}'") as info:
        cluster.fresh_topic(topic, cleanup_policy="sometimes")
    assert "cleanup.policy" in str(info.value)
    assert time.monotonic() - t0 < 10  # not retried until a timeout
