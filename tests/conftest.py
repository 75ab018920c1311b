"""Fixtures for labkit's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import labkit
from labkit.cluster.jars import cache_dir
from labkit.settings import Settings


@pytest.fixture(scope="session")
def cluster() -> labkit.Cluster:
    """The lab cluster this session runs against (started in the root conftest)."""
    return labkit.connect()


@pytest.fixture(autouse=True)
def _leadership_handed_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that restarted a node of the lab cluster, hand the node back the
    partitions it prefers to lead (a preferred-leader election) before the next test runs.
    Kafka would do that itself within 5 minutes (``leader.imbalance.check.interval.seconds``),
    moving group coordinators in the middle of whatever test or lesson runs then."""
    if "cluster" not in request.fixturenames:
        yield
        return
    cluster = request.getfixturevalue("cluster")
    before = _node_pids(cluster)
    yield
    if before is not None and _node_pids(cluster) != before:
        elect_preferred_leaders(cluster)


def elect_preferred_leaders(cluster: labkit.Cluster) -> None:
    """Give every partition back to its preferred leader (Kafka's own tool), retried until
    it succeeds: it fails while a restarted node is still out of some partition's ISR."""

    def elected() -> bool:
        out = run_cli("kafka", "kafka-leader-election", "--election-type", "PREFERRED",
                      "--all-topic-partitions", timeout=120)
        return out.returncode == 0

    cluster.wait_for("a preferred-leader election to succeed", elected, timeout=120)


def _node_pids(cluster: labkit.Cluster) -> list[object] | None:
    """The local nodes' pids as the state file has them now (None on other backends)."""
    if not cluster.controls_nodes:  # nodes it cannot restart: nothing to hand back
        return None
    from labkit.cluster.state import read_state

    state = read_state(cluster.settings) or {}  # type: ignore[attr-defined]
    return [n.get("pid") for n in state.get("nodes", [])]


@pytest.fixture()
def topic(cluster: labkit.Cluster) -> Iterator[str]:
    """A fresh topic name, deleted after the test."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    from labkit.kafka import delete_topics

    if name in cluster.admin().list_topics(timeout=5).topics:
        delete_topics(cluster, [name])


@pytest.fixture()
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private LABKIT_HOME for tests that start clusters of their own; Kafka's jars come
    from the shared cache through KAFKA_HOME (no second download)."""
    shared = cache_dir(Settings.from_env())
    home = tmp_path / "home"
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setenv("KAFKA_HOME", str(shared))
    monkeypatch.delenv("LABKIT_BASE_PORT", raising=False)
    monkeypatch.delenv("LABKIT_BACKEND", raising=False)
    monkeypatch.delenv("LABKIT_BOOTSTRAP_SERVERS", raising=False)
    return home


@pytest.fixture()
def group(cluster: labkit.Cluster) -> Iterator[str]:
    """A fresh consumer group name, deleted after the test."""
    from labkit.kafka import delete_groups

    name = f"test-group-{uuid.uuid4().hex[:8]}"
    yield name
    delete_groups(cluster, [name])


def produce_records(cluster: labkit.Cluster, topic: str, records: list[dict]) -> None:
    """Produce raw records (``Producer.produce`` keyword arguments) and wait for the acks."""
    from confluent_kafka import Producer

    producer = Producer(cluster.config(acks="all", linger_ms=5))
    for r in records:
        producer.produce(topic, **r)
    assert producer.flush(30) == 0


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``labkit ARGS`` in a new process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A CLI failure: non-zero exit, one 'labkit: error:' line, no traceback."""
    assert out.returncode != 0, out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines and lines[0].startswith("labkit: error: "), out.stderr
    for needle in needles:
        assert needle in out.stderr, (needle, out.stderr)
