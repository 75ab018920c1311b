"""A local node's heap (jcmd) and I/O counters (/proc/PID/io)."""

from __future__ import annotations

import pytest

import labkit
from labkit.cluster.processes import heap, io_counters
from labkit.exceptions import NotFoundError


def test_heap_and_io_of_a_node(cluster: labkit.Cluster) -> None:
    if cluster.backend != "local":
        pytest.skip("needs the local backend")
    node = cluster.nodes[0].id
    h = heap(cluster, node)
    assert 0 < h["used"] <= h["committed"] <= cluster.settings.heap_mb * 1024 * 1024
    io = io_counters(cluster, node)
    assert io["write_bytes"] >= 0 and io["rchar"] > 0


def test_an_unknown_node_is_a_clear_error(cluster: labkit.Cluster) -> None:
    with pytest.raises(NotFoundError, match="node 99 is not part of this cluster"):
        heap(cluster, 99)
