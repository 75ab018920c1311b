"""The port layout (no JVM)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.cluster import ports
from labkit.cluster.ports import DEFAULT_BASE_PORT, FREE_RANGE, choose_ports, node_port, port_free
from labkit.exceptions import PortInUseError
from labkit.settings import Settings


@pytest.fixture()
def listening() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as s:  # in LABKIT_BASE_PORT's range (up to 45000)
        port = next(p for p in range(41003, 45000, 7) if port_free(p))
        s.bind(("127.0.0.1", port))
        s.listen()
        yield port


def test_layout() -> None:
    assert [node_port(i) for i in (1, 2, 3)] == [19092, 20092, 21092]
    assert node_port(2, 25092) == 26092 and DEFAULT_BASE_PORT == 19092


def test_port_free(listening: int) -> None:
    assert not port_free(listening)


def test_fixed_layout_when_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "port_free", lambda port: True)
    assert choose_ports(Settings(home=tmp_path, nodes=3, base_port=30000)) == {
        1: (30000, 30001), 2: (31000, 31001), 3: (32000, 32001)}


def test_explicit_base_taken_is_an_error(tmp_path: Path, listening: int) -> None:
    with pytest.raises(PortInUseError, match=f"port {listening} on 127.0.0.1 is taken") as info:
        choose_ports(Settings(home=tmp_path, nodes=1, base_port=listening))
    assert "\n" not in str(info.value) and "LABKIT_BASE_PORT" in str(info.value)


def test_default_layout_taken_falls_back_to_free_ports(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = ports.port_free
    monkeypatch.setattr(ports, "port_free", lambda p: p != DEFAULT_BASE_PORT and real(p))
    chosen = choose_ports(Settings(home=tmp_path, nodes=3))
    flat = [p for pair in chosen.values() for p in pair]
    assert sorted(chosen) == [1, 2, 3] and len(set(flat)) == 6
    assert all(FREE_RANGE[0] <= p < FREE_RANGE[1] for p in flat)


def test_no_free_port_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "port_free", lambda port: False)
    with pytest.raises(PortInUseError, match="no free ports between 22000 and 32000"):
        ports.free_ports(2)
