"""labkit.cluster.failover (lesson 06's helpers): pure parts without a cluster, and the parts
that break and mend the real cluster (a stop, a freeze, a group's coordinator)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import labkit
from labkit.cluster import failover
from labkit.exceptions import NotSupportedError, UsageError

QUORUM_STATUS = """ClusterId:              ilL7puaISu-m3p1eUNerww
LeaderId:               1
LeaderEpoch:            8
HighWatermark:          2966
MaxFollowerLag:         0
MaxFollowerLagTimeMs:   0
CurrentVoters:          [{"id": 1, "endpoints": ["CONTROLLER://127.0.0.1:29093"]}, {"id": 2}]
CurrentObservers:       []
"""


# -- without a cluster ----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "java"), [
    ("hello", 99162322),
    ("polygenelubricants", -2147483648),  # Integer.MIN_VALUE: abs() would stay negative
    ("", 0),
    ("\U0001F600", 1772899),  # one code point, two UTF-16 units (surrogates), as Java counts
])
def test_java_hash_is_javas_string_hashcode(text: str, java: int) -> None:
    assert failover._java_hash(text) == java & 0xFFFFFFFF


def test_offsets_partition_is_kafkas_placement() -> None:
    # Utils.abs(hashCode) % partitions: Math.abs, with Integer.MIN_VALUE mapped to 0
    assert failover.offsets_partition("polygenelubricants", 3) == 0
    assert failover.offsets_partition("hello", 50) == 99162322 % 50
    assert failover.offsets_partition("test-failover-0", 3) == 717169104 % 3  # hash < 0
    assert {failover.offsets_partition(f"g-{n}", 3) for n in range(30)} == {0, 1, 2}


def test_parse_quorum_reads_the_tools_fields() -> None:
    fields = failover.parse_quorum(QUORUM_STATUS)
    assert fields["LeaderId"] == "1" and fields["HighWatermark"] == "2966"
    assert fields["CurrentVoters"].count('"id"') == 2
    assert fields["CurrentObservers"] == "[]"
    assert failover.parse_quorum("no fields here\n") == {}


def test_background_runs_until_stopped_and_returns_the_result() -> None:
    ticks: list[int] = []

    def loop(step: int, *, stop: threading.Event) -> int:
        while not stop.is_set():
            ticks.append(step)
            time.sleep(0.01)
        return len(ticks)

    with failover.Background(loop, 2) as run:
        while len(ticks) < 3:
            time.sleep(0.01)
        assert run.running
        result = run.stop()
    assert result >= 3 and set(ticks) == {2} and not run.running


def test_background_raises_what_the_function_raised() -> None:
    def broken(*, stop: threading.Event) -> None:
        raise ValueError("the student's loop failed")

    run = failover.Background(broken).start()
    with pytest.raises(ValueError, match="student's loop"):
        run.stop()
    with pytest.raises(UsageError, match="started already"):
        run.start()


def test_background_measures_the_longest_stall() -> None:
    count = [0]

    def bursty(*, stop: threading.Event) -> None:
        for pause in (0.0, 0.4, 0.0):  # grows, then stalls for 0.4 s, then grows again
            time.sleep(pause)
            count[0] += 1
        stop.wait(5)

    run = failover.Background(bursty, progress=lambda: count[0]).start()
    while count[0] < 3:
        time.sleep(0.01)
    run.stop()
    assert 0.3 <= run.longest_stall < 2.0


def test_unchanged_for_waits_until_a_value_stops_changing() -> None:
    count = [0]
    steady = failover.unchanged_for(lambda: count[0], 0.2)
    assert not steady()
    count[0] += 1
    time.sleep(0.15)
    assert not steady()  # it changed: the clock starts again
    time.sleep(0.25)
    assert steady()


def test_outage_wants_kill_or_stop() -> None:
    with pytest.raises(UsageError, match="'kill'"):
        failover.outage(SimpleNamespace(), "t", 0, "pause")  # type: ignore[arg-type]


def test_only_the_local_backend_freezes_nodes() -> None:
    elsewhere: Any = SimpleNamespace(controls_nodes=False, backend="external", nodes=[])
    with pytest.raises(NotSupportedError, match="cannot freeze"), \
            failover.frozen(elsewhere, [1]):
        pass


# -- on the lab's cluster --------------------------------------------------------------------
def _state(pid: int) -> str:
    """The process state letter in /proc (T: stopped by a signal)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_coordinator_placement_matches_the_broker(cluster: labkit.Cluster) -> None:
    failover.restore(cluster)
    for node in sorted({n.id for n in cluster.nodes}):
        try:
            group = failover.group_coordinated_by(cluster, node, "test-failover")
        except labkit.exceptions.NotFoundError:
            continue  # this node leads no partition of __consumer_offsets
        assert failover.coordinator(cluster, group) == node


def test_fresh_topic_led_by_and_restore(cluster: labkit.Cluster, topic: str) -> None:
    failover.restore(cluster)
    leader = max(n.id for n in cluster.nodes)
    failover.fresh_topic_led_by(cluster, topic, leader, min_insync_replicas=2)
    assert failover.leaders(cluster, topic) == {0: leader}
    assert failover.isr_complete(cluster, [topic])
    assert failover.off_preferred(cluster, [topic]) == []


def test_a_frozen_node_is_resumed_whatever_happens(cluster: labkit.Cluster) -> None:
    if cluster.backend != "local" or len(cluster.nodes) < 3:
        pytest.skip("needs the local 3-node cluster")
    node = next(n for n in cluster.nodes if n.id != cluster.quorum_leader())
    assert node.pid is not None
    pid = node.pid
    with pytest.raises(RuntimeError, match="inside"), failover.frozen(cluster, [node.id]):
        cluster.wait_for("the node to stop", lambda: _state(pid) == "T", timeout=5)
        raise RuntimeError("inside the block")
    cluster.wait_for("the node to go on", lambda: _state(pid) != "T", timeout=5)


def test_a_stopped_leader_is_replaced_at_once(cluster: labkit.Cluster, topic: str) -> None:
    if not cluster.controls_nodes or len(cluster.nodes) < 3:
        pytest.skip("needs a 3-node cluster whose nodes labkit controls")
    failover.restore(cluster)
    cluster.fresh_topic(topic, partitions=1)
    try:
        out = failover.outage(cluster, topic, 0, "stop")
        assert out.new_leader != out.node and out.how == "stop"
        assert out.elected_after <= out.exited_after + 1.0  # leadership moved before the exit
    finally:
        failover.restore(cluster)
    assert all(n.alive for n in cluster.nodes) and failover.off_preferred(cluster) == []
