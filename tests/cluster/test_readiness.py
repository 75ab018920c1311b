"""Readiness helpers without a JVM: fake node lists, a closed port, patched answers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from labkit.cluster import readiness
from labkit.cluster.base import NodeInfo
from labkit.exceptions import ClusterTimeoutError, NodeStartError


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


class _Fake:
    """Enough of a Cluster for wait_rejoined: a node list (and no SASL/SSL settings)."""

    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes

    def security_config(self) -> dict[str, str]:
        return {}


def test_dead_nodes_are_not_asked() -> None:
    nodes = [NodeInfo(id=i, host="127.0.0.1", port=1, alive=False) for i in (1, 2, 3)]
    assert readiness.unlisted_by(nodes, 2) == ""
    assert readiness.listed_by_every_node(nodes, 2)


def test_a_node_that_does_not_answer_is_named() -> None:
    nodes = [NodeInfo(id=1, host="127.0.0.1", port=_closed_port())]
    why = readiness.unlisted_by(nodes, 1)
    assert why.startswith("node 1 did not answer") and "\n" not in why
    assert not readiness.listed_by_every_node(nodes, 1)


def test_wait_rejoined_returns_once_every_node_lists_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["node 1 does not list node 3 yet", "", ""])
    asked: list[int] = []
    monkeypatch.setattr(readiness, "unlisted_by", lambda nodes, node_id, **_: next(answers))
    readiness.wait_rejoined(_Fake([]), [3, 2], timeout=5, check_alive=asked.append)
    assert asked == [2, 2, 3]  # each pending node is checked for life before it is asked


def test_wait_rejoined_timeout_says_what_how_long_last_and_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "unlisted_by",
                        lambda nodes, node_id, **_: f"node 1 does not list node {node_id} yet")
    with pytest.raises(ClusterTimeoutError) as info:
        readiness.wait_rejoined(_Fake([]), [3], timeout=0.3)
    text = str(info.value)
    assert "timed out after 0.3 s waiting for node(s) 3 to rejoin the cluster" in text
    assert "last: node 1 does not list node 3 yet" in text
    assert "Hint: 'labkit logs 3'" in text and "\n" not in text


def test_wait_rejoined_reports_a_dead_node_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "unlisted_by", lambda nodes, node_id, **_: "not yet")

    def dead(node_id: int) -> None:
        raise NodeStartError(f"Kafka node {node_id} exited during start")

    t0 = time.monotonic()
    with pytest.raises(NodeStartError, match="node 2 exited"):
        readiness.wait_rejoined(_Fake([]), [2], timeout=30, check_alive=dead)
    assert time.monotonic() - t0 < 5


def test_wait_until_ready_timeout_has_hint_and_log_lines() -> None:
    conf = {"bootstrap.servers": f"127.0.0.1:{_closed_port()}"}
    with pytest.raises(ClusterTimeoutError) as info:
        readiness.wait_until_ready(conf, {1}, timeout=0.5, logs_hint=lambda: "node 1: LOGLINE")
    text = str(info.value)
    first, *rest = text.splitlines()
    assert first.startswith("the cluster was not ready: timed out after 0.5 s waiting for "
                            "the metadata to list brokers [1] (last: seen [])")
    assert "Hint: a slow machine may need LABKIT_START_TIMEOUT=180" in first
    assert rest == ["Last log lines:", "node 1: LOGLINE"]


def test_wait_until_ready_reports_a_crash_at_once(tmp_path: Path) -> None:
    def crashed() -> None:
        raise NodeStartError("Kafka node 1 exited during start")

    conf = {"bootstrap.servers": f"127.0.0.1:{_closed_port()}"}
    with pytest.raises(NodeStartError):
        readiness.wait_until_ready(conf, {1}, timeout=30, check_alive=crashed)
