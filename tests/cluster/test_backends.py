"""What each backend can show and do (logs, data_dir, quorum_leader, controls_nodes), asked
instead of checking ``cluster.backend``; no JVM runs here."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.cluster import purge
from labkit.cluster.external import ExternalCluster
from labkit.cluster.local import LocalCluster
from labkit.cluster.state import write_state
from labkit.exceptions import NotFoundError, NotSupportedError
from labkit.settings import Settings


@pytest.fixture()
def fake_nodes(tmp_path: Path) -> Iterator[LocalCluster]:
    """A 3-node local cluster in the state file whose 'nodes' are sleeping shells (their
    command lines name each node's node.properties, as a real node's does)."""
    settings = Settings(home=tmp_path, nodes=3)
    probe = LocalCluster(settings)
    procs, nodes = [], []
    for i in (1, 2, 3):
        d = probe.node_dir(i)
        (d / "data").mkdir(parents=True)
        procs.append(subprocess.Popen(["sh", "-c", "sleep 60", str(d / "node.properties")]))
        nodes.append({"id": i, "port": 1000 + i, "controller_port": 2000 + i, "dir": str(d),
                      "pid": procs[-1].pid})
    write_state(settings, {"backend": "local", "nodes": nodes})
    try:
        yield LocalCluster(settings)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _quorum_state(cluster: LocalCluster, node_id: int, leader: int, epoch: int) -> None:
    folder = cluster.data_dir(node_id) / "__cluster_metadata-0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quorum-state").write_text(json.dumps(
        {"leaderId": leader, "leaderEpoch": epoch, "votedId": -1, "data_version": 1}))


def test_local_capabilities(fake_nodes: LocalCluster) -> None:
    c = fake_nodes
    assert c.controls_nodes and all(n.alive for n in c.nodes)
    assert c.data_dir(2) == c.node_dir(2) / "data"
    assert c.quorum_leader() is None  # no node has written its quorum state yet
    _quorum_state(c, 1, leader=1, epoch=3)
    _quorum_state(c, 2, leader=2, epoch=5)  # a later election: highest epoch wins
    (c.data_dir(3) / "__cluster_metadata-0").mkdir()
    (c.data_dir(3) / "__cluster_metadata-0" / "quorum-state").write_text("{half")
    assert c.quorum_leader() == 2


def test_local_logs(fake_nodes: LocalCluster) -> None:
    c = fake_nodes
    c.log_path(1).write_text("".join(f"line {i}\n" for i in range(100)))
    assert c.logs(1, 3) == "line 97\nline 98\nline 99"
    assert c.logs(1).count("\n") == 39
    with pytest.raises(NotFoundError, match="node 2 has no log yet"):
        c.logs(2)
    with pytest.raises(NotFoundError, match=r"there is no node 7; nodes are \[1, 2, 3\]"):
        c.logs(7)
    with pytest.raises(NotFoundError, match="there is no node 0"):
        c.data_dir(0)


def test_unknown_node_in_node_control(fake_nodes: LocalCluster) -> None:
    with pytest.raises(NotFoundError, match=r"node 5 is not part of this 3-node cluster; nodes "
                                            r"are \[1, 2, 3\]"):
        fake_nodes.kill_node(5)


def test_local_cluster_not_running_still_shows_its_logs(tmp_path: Path) -> None:
    c = LocalCluster(Settings(home=tmp_path, nodes=1))
    c.node_dir(1).mkdir(parents=True)
    c.log_path(1).write_text("Kafka Server started\n")
    assert c.logs(1) == "Kafka Server started"
    assert c.quorum_leader() is None


def test_external_capabilities(tmp_path: Path) -> None:
    c = ExternalCluster(Settings(home=tmp_path, bootstrap_servers="10.0.0.1:9092"))
    assert not c.controls_nodes and c.data_dir(1) is None and c.quorum_leader() is None
    with pytest.raises(NotSupportedError, match="does not show its nodes' logs") as info:
        c.logs(1)
    assert "\n" not in str(info.value)
    with pytest.raises(NotSupportedError):
        c.kill_node(1)


def test_external_security_comes_from_settings(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, bootstrap_servers="h:9093", security_protocol="SASL_SSL",
                 sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    conf = ExternalCluster(s).config()
    assert conf["security.protocol"] == "SASL_SSL" and conf["sasl.password"] == "p"


def test_purge_deletes_both_local_clusters(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, backend="local")
    for n in (1, 3):
        (tmp_path / "clusters" / f"{n}-node" / "node-1" / "data").mkdir(parents=True)
    (tmp_path / "kafka_2.13-4.4.0").mkdir()
    purge(s)
    assert not (tmp_path / "clusters" / "1-node").exists()
    assert not (tmp_path / "clusters" / "3-node").exists()
    assert (tmp_path / "kafka_2.13-4.4.0").exists()  # the jars stay


def test_purge_refuses_an_external_cluster(tmp_path: Path) -> None:
    with pytest.raises(NotSupportedError, match="not the lab's to delete"):
        purge(Settings(home=tmp_path, bootstrap_servers="h:9092"))


def test_features_are_brought_to_the_release_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster formatted by an older Kafka (no marker, or another version in it) gets the
    running release's feature levels, except kraft.version (the quorum stays static)."""
    from labkit.cluster.java import Java
    from labkit.cluster.jvm import Jvm
    from labkit.cluster.local import FEATURES_MARKER

    libs = tmp_path / "kafka" / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.4.0.jar").write_bytes(b"")
    c = LocalCluster(Settings(home=tmp_path, nodes=1), jvm=Jvm(Java(Path("java"), "17", 17), libs))
    calls: list[tuple[str, ...]] = []
    mapping = ("metadata.version=33 (4.4-IV2)\nkraft.version=1\nshare.version=2\n"
               "group.version=1\n")

    def fake_kafka(tool: str, *args: str, check: bool = True,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        out = mapping if args[0] == "version-mapping" else "share.version was upgraded to 2.\n"
        return subprocess.CompletedProcess([tool, *args], 0, out, "")

    monkeypatch.setattr(c, "kafka", fake_kafka)
    c.cluster_dir.mkdir(parents=True)
    (c.cluster_dir / FEATURES_MARKER).write_text("4.1.1\n")
    c._finalize_features()
    assert calls == [("version-mapping",), ("upgrade", "--feature", "metadata.version=33",
                                            "--feature", "share.version=2",
                                            "--feature", "group.version=1")]
    assert (c.cluster_dir / FEATURES_MARKER).read_text() == "4.4.0\n"
    c._finalize_features()  # done: no second upgrade
    assert len(calls) == 2
