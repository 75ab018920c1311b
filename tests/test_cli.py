"""The ``labkit`` command line: what a user sees, including every fault case."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import labkit
from labkit.cluster.state import pid_alive, read_state, write_state
from labkit.settings import Settings
from tests.conftest import assert_one_line_error, run_cli


def test_down_with_nothing_running(own_home: Path) -> None:
    assert_one_line_error(run_cli("down"), "no lab cluster is running", "labkit up")


def test_down_with_a_stale_state_file(own_home: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_state(Settings.from_env(), {"backend": "local", "nodes": [
        {"id": 1, "pid": dead.pid, "port": 1, "controller_port": 2, "dir": str(own_home)}]})
    out = run_cli("down")
    assert out.returncode == 0 and "stale state file" in out.stdout
    assert read_state(Settings.from_env()) is None


def test_status_with_nothing_running(own_home: Path) -> None:
    out = run_cli("status")
    assert out.returncode == 3 and "no lab cluster is running" in out.stdout


def test_unknown_backend(own_home: Path) -> None:
    assert_one_line_error(run_cli("up", env={"LABKIT_BACKEND": "kubernetes"}),
                          "unknown backend 'kubernetes'", "local")


def test_missing_java(own_home: Path, tmp_path: Path) -> None:
    out = run_cli("up", "--nodes", "1", env={"JAVA_HOME": str(tmp_path / "nojdk")})
    assert_one_line_error(out, "has no bin/java")
    assert read_state(Settings.from_env()) is None


def test_old_java(own_home: Path, tmp_path: Path) -> None:
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    out = run_cli("up", "--nodes", "1", env={"JAVA_HOME": str(tmp_path / "jdk")})
    assert_one_line_error(out, "Java 17 or newer, found Java 11.0.22")


def test_no_source_for_the_jars(own_home: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_HOME")
    bin_dir = tmp_path / "bin"  # a PATH with java but without mvn
    bin_dir.mkdir()
    java = subprocess.run(["sh", "-c", "command -v java"], capture_output=True, text=True)
    (bin_dir / "java").symlink_to(os.path.realpath(java.stdout.strip()))
    out = run_cli("install", env={"PATH": str(bin_dir), "LABKIT_KAFKA_MIRROR":
                                  f"file://{tmp_path}/no-mirror"})
    assert_one_line_error(out, "no source for the Kafka", "Maven (mvn) is not on PATH")
    assert not list(own_home.glob("kafka_2.13-*"))


def test_unknown_kafka_tool(cluster: object) -> None:
    assert_one_line_error(run_cli("kafka", "kafka-frobnicate"), "unknown Kafka tool")


@pytest.mark.cluster
def test_kafka_tool_against_the_lab_cluster(cluster: object) -> None:
    out = run_cli("kafka", "kafka-metadata-quorum", "describe", "--status")
    assert out.returncode == 0, out.stderr
    assert "LeaderId:" in out.stdout


@pytest.mark.cluster
def test_produce_without_a_rate_prints_the_achieved_rate(cluster: labkit.Cluster,
                                                         topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    out = run_cli("produce", "pizza", "--topic", topic, "--limit", "5000")
    assert out.returncode == 0, out.stderr
    assert "sent 5000, acked 5000, failed 0" in out.stdout, out.stdout
    line = out.stdout.splitlines()[-2]  # then the summary, the last line as before
    assert line.startswith("achieved rate: ") and line.endswith(
        " events/s acknowledged (full speed)"), line
    assert int(line.split()[2].replace(",", "")) > 0, line


def test_up_restarts_a_node_that_is_down(cluster: labkit.Cluster) -> None:
    """A node a lesson stopped stays down if its kernel died; ``labkit up`` brings it back,
    and a process that started earlier (this one) still controls the restarted node."""
    if len(cluster.nodes) < 3 or cluster.backend != "local":
        pytest.skip("needs the local 3-node cluster")

    def alive() -> dict[int, bool]:
        return {n.id: n.alive for n in labkit.connect(start=False).nodes}

    cluster.kill_node(3)
    try:
        out = run_cli("up")
        assert out.returncode == 0, out.stderr
        assert "running again, restarted node(s) 3" in out.stdout, out.stdout
        assert run_cli("status").stdout.count(" ready") == 3
        cluster.kill_node(3)  # the new pid, not the one this process started
        assert alive() == {1: True, 2: True, 3: False}
    finally:
        if not alive()[3]:
            cluster.start_node(3)
    assert "already running" in run_cli("up").stdout


@pytest.mark.slow
def test_up_status_logs_reset_down(own_home: Path) -> None:
    up = run_cli("up", "--nodes", "1")
    assert up.returncode == 0, up.stderr
    assert "bootstrap.servers=127.0.0.1:" in up.stdout
    pids = [n["pid"] for n in read_state(Settings.from_env())["nodes"]]  # type: ignore[index]
    try:
        status = run_cli("status")
        assert status.returncode == 0 and " ready" in status.stdout
        made = run_cli("kafka", "kafka-topics", "--create", "--topic", "orders")
        assert made.returncode == 0, made.stderr
        assert "Kafka Server started" in run_cli("logs", "1", "-n", "400").stdout
        reset = run_cli("reset")
        assert "deleted 1 topic(s)" in reset.stdout, reset
        assert_one_line_error(run_cli("logs", "5"), "there is no node 5")
    finally:
        down = run_cli("down")
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(p) for p in pids)


def test_logs_without_a_running_cluster(own_home: Path) -> None:
    assert_one_line_error(run_cli("logs", "1"), "node 1 has no log yet", "labkit up")
    assert_one_line_error(run_cli("logs", "5"), "there is no node 5; nodes are [1, 2, 3]")
    node = own_home / "clusters" / "3-node" / "node-2"
    node.mkdir(parents=True)
    (node / "server.log").write_text("one\ntwo\nthree\n")
    out = run_cli("logs", "2", "-n", "2")
    assert out.returncode == 0 and out.stdout == "two\nthree\n", out


def test_logs_of_an_external_cluster(own_home: Path) -> None:
    out = run_cli("logs", "1", env={"LABKIT_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    assert_one_line_error(out, "does not show its nodes' logs")


def test_down_purge_with_nothing_running(own_home: Path) -> None:
    for n in (1, 3):
        (own_home / "clusters" / f"{n}-node" / "node-1" / "data").mkdir(parents=True)
    out = run_cli("down", "--purge")
    assert out.returncode == 0 and "its data was deleted" in out.stdout, out
    assert not list((own_home / "clusters").iterdir())


def test_cli_never_builds_a_local_cluster() -> None:
    """cli.py asks the cluster (logs, purge), never the local backend by name."""
    source = (Path(__file__).resolve().parents[1] / "labkit" / "cli.py").read_text()
    for name in ("cmd_logs", "cmd_down", "cmd_status"):
        body = source.split(f"def {name}(")[1].split("\ndef ")[0]
        assert "LocalCluster" not in body and "labkit.cluster.local" not in body, name
