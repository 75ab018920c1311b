"""``labkit doctor``: one line per finding, exit status 1 only when something blocks the lab."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from labkit.cluster.ports import free_ports
from labkit.cluster.state import write_state
from labkit.lab.doctor import diagnose
from labkit.settings import Settings
from tests.conftest import run_cli


def test_this_machine_is_fit_for_the_lab(own_home: Path) -> None:
    out = run_cli("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert all(line[0] in "✓!" for line in lines[:-1]), out.stdout
    for what in ("Python", "Java", "Kafka jars", "ports", "memory", "disk", "cluster"):
        assert any(line[2:].startswith(what) for line in lines), (what, out.stdout)
    assert lines[-1] == "nothing blocks 'make lab'"


def test_a_taken_base_port_blocks(own_home: Path) -> None:
    port = free_ports(1)[0]  # in LABKIT_BASE_PORT's range
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        out = run_cli("doctor", env={"LABKIT_BASE_PORT": str(port)})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"✗ ports: {port} (LABKIT_BASE_PORT={port}) is taken" in out.stdout
    assert out.stdout.strip().endswith("1 problem(s) block 'make lab'")


def test_a_missing_java_is_one_line_with_a_fix(own_home: Path, tmp_path: Path) -> None:
    out = run_cli("doctor", env={"JAVA_HOME": str(tmp_path / "no-jdk")})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("✗ java"))
    assert "has no bin/java" in line and "JAVA_HOME" in line


def test_a_stale_state_file_is_a_warning_and_is_left_alone(own_home: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    settings = Settings.from_env()
    write_state(settings, {"backend": "local", "nodes": [
        {"id": 1, "pid": dead.pid, "port": 1, "controller_port": 2, "dir": str(own_home)}]})
    found = {f.what: f for f in diagnose(settings)}
    assert found["cluster"].status == "warn" and "stale state file" in found["cluster"].detail
    assert (own_home / "cluster.json").exists()  # the doctor only looks


def test_a_bad_setting_is_reported_not_raised(own_home: Path) -> None:
    out = run_cli("doctor", env={"LABKIT_NODES": "7"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "✗ settings: LABKIT_NODES=7" in out.stdout
