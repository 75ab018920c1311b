"""The compose and testcontainers backends.

(a) Static validation of docker-compose.yml: runs everywhere, no Docker needed. The checks live
    in ``compose_problems()``, which is also run on deliberately broken copies of the file.
(b) Tests that need a Docker engine (skipped where none answers).
(c) Unit tests of labkit.cluster.compose with a fake ``docker`` client on PATH.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import pytest

from labkit.cluster import compose, readiness
from labkit.cluster.compose import (
    ComposeCluster,
    TestcontainersCluster,
    compose_plugin_available,
    docker_engine_available,
    make,
    parse_ps,
)
from labkit.cluster.local import broker_properties
from labkit.cluster.ports import DEFAULT_BASE_PORT, PORT_STEP
from labkit.cluster.state import read_state, write_state
from labkit.exceptions import BackendError, LabkitError, SettingsError
from labkit.settings import KAFKA_VERSION, Settings

yaml = pytest.importorskip("yaml", reason="pyyaml (dev extra) parses docker-compose.yml")

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
NO_ENGINE_REASON = ("no Docker engine on this machine: the compose/testcontainers backends are "
                    "validated statically only")
ENGINE = docker_engine_available()
needs_engine = pytest.mark.skipif(not ENGINE, reason=NO_ENGINE_REASON)

# Settings that differ by design between the local backend and Docker (addresses, paths).
NOT_MIRRORED = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners",
                "listener.security.protocol.map", "log.dirs"}


# -- (a) static validation ----------------------------------------------------------------------
def env_name(prop: str) -> str:
    """The apache/kafka image's variable for a server property: '_' -> '__', '.' -> '_',
    '-' -> '___', upper case, prefix KAFKA_."""
    return "KAFKA_" + prop.replace("_", "__").replace(".", "_").replace("-", "___").upper()


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """'A://h:1,B://:2' -> {'A': ('h', 1), 'B': ('', 2)}"""
    out = {}
    for item in filter(None, (x.strip() for x in value.split(","))):
        m = re.fullmatch(r"([A-Za-z0-9_]+)://([^:/]*):(\d+)", item)
        if not m:
            raise ValueError(f"bad listener {item!r}")
        out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


def published(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Short-syntax port strings as (host ip, host port, container port); ${VAR:-default}
    counts as its default."""
    out = []
    for p in service.get("ports", []):
        parts = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(p)).split(":")
        out.append((parts[0], parts[1], parts[2]) if len(parts) == 3 else ("", *parts[-2:]))
    return out


def lab_properties() -> dict[str, str]:
    ports = {i: (DEFAULT_BASE_PORT + (i - 1) * PORT_STEP,) * 2 for i in (1, 2, 3)}
    text = broker_properties(1, ports, Path("/data"), 3)
    return dict(line.split("=", 1) for line in text.splitlines()
                if line and not line.startswith("#"))


def compose_problems(doc: dict[str, Any]) -> list[str]:
    """Everything wrong with a parsed docker-compose.yml for the lab ([] when all is well)."""
    problems: list[str] = []
    services = doc.get("services") or {}
    kafka = {n: s for n, s in services.items()
             if str(s.get("image", "")).startswith("apache/kafka")}
    if sorted(kafka) != ["kafka-1", "kafka-2", "kafka-3"]:
        return [f"kafka services are {sorted(kafka)}, not kafka-1, kafka-2, kafka-3"]
    if doc.get("name") != compose.PROJECT:
        problems.append(f"project name is {doc.get('name')!r}, not {compose.PROJECT!r}")
    envs = {n: env_of(s) for n, s in kafka.items()}
    ids = {n: e.get("KAFKA_NODE_ID") for n, e in envs.items()}
    if sorted(ids.values(), key=str) != ["1", "2", "3"]:
        problems.append(f"node ids are {ids}, not 1..3 unique")
    for key in ("KAFKA_CONTROLLER_QUORUM_VOTERS", "CLUSTER_ID", "KAFKA_PROCESS_ROLES"):
        if len({e.get(key) for e in envs.values()}) != 1:
            problems.append(f"{key} differs between the nodes")
    lab = lab_properties()
    for name, svc in kafka.items():
        env, i = envs[name], int(name.split("-")[1])
        if svc["image"] != f"apache/kafka:{KAFKA_VERSION}":
            problems.append(f"{name}: image {svc['image']} is not apache/kafka:{KAFKA_VERSION}")
        if set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
            problems.append(f"{name}: not a combined broker+controller node")
        if ids[name] != str(i):
            problems.append(f"{name}: KAFKA_NODE_ID {ids[name]} does not match its name")
        if "healthcheck" not in svc:
            problems.append(f"{name}: no healthcheck")
        try:
            lis = listeners(env.get("KAFKA_LISTENERS", ""))
            adv = listeners(env.get("KAFKA_ADVERTISED_LISTENERS", ""))
            protocol_map = dict(x.split(":") for x in
                                env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(","))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if set(lis) != set(protocol_map):
            problems.append(f"{name}: listeners {sorted(lis)} != security map "
                            f"{sorted(protocol_map)}")
        controllers = env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "").split(",")
        if not set(controllers) <= set(lis) or set(controllers) & set(adv):
            problems.append(f"{name}: controller listeners {controllers} not (only) in listeners")
        if env.get("KAFKA_INTER_BROKER_LISTENER_NAME") not in adv:
            problems.append(f"{name}: the inter-broker listener is not advertised")
        for lname, (_host, port) in adv.items():
            if lname not in lis or lis[lname][1] != port:
                problems.append(f"{name}: advertised {lname} port {port} is no listener's port")
        want = DEFAULT_BASE_PORT + (i - 1) * PORT_STEP
        if adv.get("PLAINTEXT_HOST") != ("127.0.0.1", want):
            problems.append(f"{name}: PLAINTEXT_HOST is advertised as {adv.get('PLAINTEXT_HOST')}"
                            f", not 127.0.0.1:{want} (the local backend's port)")
        if published(svc) != [("127.0.0.1", str(want), str(want))]:
            problems.append(f"{name}: publishes {svc.get('ports')}, not 127.0.0.1:{want}:{want}")
        for voter in env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","):
            m = re.fullmatch(r"(\d+)@([^:]+):(\d+)", voter)
            if not m:
                problems.append(f"{name}: bad voter {voter!r}")
                continue
            target = f"kafka-{m.group(1)}"
            tlis = listeners(envs.get(target, {}).get("KAFKA_LISTENERS", ""))
            tport = next((tlis[c][1] for c in controllers if c in tlis), None)
            if m.group(2) not in (target, services.get(target, {}).get("hostname")) or (
                    int(m.group(3)) != tport):
                problems.append(f"{name}: voter {voter} is not {target}'s controller listener")
        for prop, value in lab.items():
            if prop not in NOT_MIRRORED and env.get(env_name(prop)) != value:
                problems.append(f"{name}: {env_name(prop)}={env.get(env_name(prop))} but the "
                                f"local backend has {prop}={value}")
        mounts = [str(v).split(":") for v in svc.get("volumes", [])]
        if [m[1] for m in mounts] != [env.get("KAFKA_LOG_DIRS")] or (
                mounts[0][0] not in (doc.get("volumes") or {})):
            problems.append(f"{name}: the log dir is not one named volume")
    cid = envs["kafka-1"].get("CLUSTER_ID", "")
    try:
        uuid.UUID(bytes=base64.urlsafe_b64decode(cid + "=="))
    except ValueError:
        problems.append(f"CLUSTER_ID {cid!r} is not a base64 UUID")
    for name, svc in services.items():
        if any(ip != "127.0.0.1" for ip, _h, _c in published(svc)):
            problems.append(f"{name}: a port is published beyond 127.0.0.1: {svc.get('ports')}")
        if name not in kafka and not svc.get("profiles"):
            problems.append(f"{name}: an optional service must be behind a profile")
    if "ui" not in (services.get("kafka-ui") or {}).get("profiles", []):
        problems.append("no kafka-ui service behind the 'ui' profile")
    return problems


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_env_name_follows_the_image_convention() -> None:
    assert env_name("log.cleaner.backoff.ms") == "KAFKA_LOG_CLEANER_BACKOFF_MS"
    assert env_name("abc-def") == "KAFKA_ABC___DEF"
    assert env_name("abc_def.x") == "KAFKA_ABC__DEF_X"


def test_compose_file_is_valid(doc: dict[str, Any]) -> None:
    assert compose_problems(doc) == []


def test_replication_settings(doc: dict[str, Any]) -> None:
    for name in ("kafka-1", "kafka-2", "kafka-3"):
        env = env_of(doc["services"][name])
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"


def _set(doc: dict[str, Any], service: str, key: str, value: Any) -> None:
    doc["services"][service]["environment"][key] = value


BREAKAGES = {
    "voters differ": (lambda d: _set(d, "kafka-2", "KAFKA_CONTROLLER_QUORUM_VOTERS",
                                     "1@kafka-1:9093,2@kafka-2:9093"), "differs"),
    "voter port": (lambda d: [_set(d, f"kafka-{i}", "KAFKA_CONTROLLER_QUORUM_VOTERS",
                                   "1@kafka-1:9094,2@kafka-2:9093,3@kafka-3:9093")
                              for i in (1, 2, 3)], "controller listener"),
    "advertised port": (lambda d: _set(d, "kafka-1", "KAFKA_ADVERTISED_LISTENERS",
                                       "PLAINTEXT://kafka-1:9092,PLAINTEXT_HOST://127.0.0.1:19093"),
                        "PLAINTEXT_HOST is advertised"),
    "all interfaces": (lambda d: d["services"]["kafka-2"].update(ports=["20092:20092"]),
                       "beyond 127.0.0.1"),
    "duplicate id": (lambda d: _set(d, "kafka-3", "KAFKA_NODE_ID", "2"), "unique"),
    "security map": (lambda d: [_set(d, f"kafka-{i}", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                                     "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
                                for i in (1, 2, 3)], "security map"),
    "min isr": (lambda d: _set(d, "kafka-1", "KAFKA_MIN_INSYNC_REPLICAS", "1"), "min.insync"),
    "retention check": (lambda d: _set(d, "kafka-3", "KAFKA_LOG_RETENTION_CHECK_INTERVAL_MS",
                                       "300000"), "log.retention.check.interval.ms"),
    "ui without profile": (lambda d: d["services"]["kafka-ui"].pop("profiles"), "profile"),
    "fourth node": (lambda d: d["services"].update({"kafka-4": d["services"]["kafka-3"]}),
                    "kafka services"),
    "old image": (lambda d: d["services"]["kafka-1"].update(image="apache/kafka:3.9.0"), "image"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_copies_are_caught(doc: dict[str, Any], breakage: str) -> None:
    broken = copy.deepcopy(doc)
    mutate, expected = BREAKAGES[breakage]
    mutate(broken)
    problems = compose_problems(broken)
    assert any(expected in p for p in problems), problems


@pytest.mark.skipif(not compose_plugin_available(),
                    reason="the docker client here has no compose plugin to parse the file")
@pytest.mark.parametrize("profile", [[], ["--profile", "ui"]])
def test_docker_compose_config_accepts_the_file(profile: list[str]) -> None:
    out = subprocess.run(["docker", "compose", "-f", str(COMPOSE_FILE), *profile, "config", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


# -- (b) with a Docker engine ----------------------------------------------------------------
@pytest.fixture
def compose_cluster(tmp_path: Path) -> Any:
    cluster = make(Settings(home=tmp_path, backend="compose", start_timeout=300), "compose")
    try:
        yield cluster.up()
    finally:
        cluster.down(purge=True)


@needs_engine
@pytest.mark.slow
def test_compose_cluster_end_to_end(compose_cluster: ComposeCluster, tmp_path: Path) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import NewTopic

    c = compose_cluster
    assert c.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:20092,127.0.0.1:21092"
    assert read_state(c.settings)["backend"] == "compose"  # type: ignore[index]
    assert [n.id for n in c.nodes if n.alive] == [1, 2, 3]
    c.admin().create_topics([NewTopic("compose-e2e", 1, 3)])["compose-e2e"].result(30)

    def produce(n: int) -> None:
        p = Producer(c.config(acks="all"))
        for k in range(n):
            p.produce("compose-e2e", f"m{k}".encode())
        assert p.flush(30) == 0

    produce(5)
    c.kill_node(3)
    c.wait_for("node 3 to leave", lambda: 3 not in c.broker_ids())
    produce(5)  # 2 of 3 replicas still in sync: acks=all writes go on
    c.start_node(3, timeout=120)
    consumer = Consumer(c.config(group_id="e2e", auto_offset_reset="earliest"))
    consumer.subscribe(["compose-e2e"])
    got: list[bytes] = []
    c.wait_for("10 records", lambda: got.extend(
        m.value() for m in consumer.consume(10, 1.0) if not m.error()) or len(got) >= 10,
        timeout=60)
    consumer.close()
    c.down()
    assert not c.is_running() and read_state(c.settings) is None


@needs_engine
@pytest.mark.slow
def test_testcontainers_cluster_starts(tmp_path: Path) -> None:
    pytest.importorskip("testcontainers.compose")
    cluster = make(Settings(home=tmp_path, backend="testcontainers", start_timeout=300),
                   "testcontainers")
    try:
        cluster.up()
        assert cluster.broker_ids() == {1, 2, 3}
    finally:
        cluster.down(purge=True)


# -- (c) unit tests, no engine needed -----------------------------------------------------
def test_make_without_engine_raises_one_line(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(compose, "docker_engine_available", lambda: False)
    for backend in ("compose", "testcontainers"):
        if backend == "testcontainers":
            monkeypatch.setattr(compose, "_import_testcontainers", lambda: object)
        with pytest.raises(BackendError) as err:
            make(Settings(home=tmp_path, backend=backend), backend)
        assert "\n" not in str(err.value)
        assert "docker info" in str(err.value) and "LABKIT_BACKEND=local" in str(err.value)


def test_connect_with_compose_backend_and_no_engine(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    import labkit

    monkeypatch.setattr(compose, "docker_engine_available", lambda: False)
    with pytest.raises(BackendError, match="no Docker engine"):
        labkit.connect(backend="compose", home=tmp_path)


def test_real_client_without_an_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real docker client (where one is installed) pointed at an engine that is not there:
    the check says no and make() refuses, on every machine, engine or not."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    assert docker_engine_available() is False
    with pytest.raises(BackendError, match="no Docker engine answers"):
        make(Settings(home=tmp_path, backend="compose"), "compose")


FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
  info*) [ -n "$FAKE_SLEEP" ] && exec sleep "$FAKE_SLEEP"; echo 28.2.2 ;;
  *" ps "*) cat "{ps}" ;;
esac
exit ${{FAKE_RC:-0}}
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bin_dir, log, ps = tmp_path / "bin", tmp_path / "docker.log", tmp_path / "ps.json"
    bin_dir.mkdir()
    ps.write_text("")
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER.format(log=log, ps=ps))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return {"log": log, "ps": ps, "bin": bin_dir}


def calls(fake: dict[str, Path]) -> list[str]:
    prefix = f"compose -f {COMPOSE_FILE} -p labkit "
    lines = fake["log"].read_text().splitlines() if fake["log"].exists() else []
    return [ln.removeprefix(prefix) for ln in lines]


def test_engine_check_with_fake_clients(fake_docker: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert docker_engine_available() is True
    monkeypatch.setenv("FAKE_RC", "1")
    assert docker_engine_available() is False
    monkeypatch.delenv("FAKE_RC")
    monkeypatch.setenv("FAKE_SLEEP", "5")
    assert docker_engine_available(timeout=0.3) is False
    monkeypatch.setenv("PATH", str(fake_docker["bin"] / "nowhere"))
    assert docker_engine_available() is False and compose_plugin_available() is False


def _ps(states: dict[int, str]) -> str:
    return "\n".join(json.dumps({"Service": f"kafka-{i}", "State": s}) for i, s in states.items())


def test_compose_cluster_commands(fake_docker: dict[str, Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[Any] = []
    monkeypatch.setattr(compose, "wait_until_ready",
                        lambda conf, ids, **kw: waited.append((conf, ids, kw["min_isr"])) or 1.0)
    monkeypatch.setattr(compose, "port_free", lambda port: True)
    cluster = make(Settings(home=tmp_path, backend="compose"), "compose")
    assert isinstance(cluster, ComposeCluster) and cluster.nodes == []
    cluster.up()
    assert "up -d" in calls(fake_docker)
    assert waited[0][1:] == ({1, 2, 3}, 2)
    assert waited[0][0]["bootstrap.servers"] == "127.0.0.1:19092,127.0.0.1:20092,127.0.0.1:21092"
    assert read_state(cluster.settings)["backend"] == "compose"  # type: ignore[index]
    assert cluster.started_here
    fake_docker["ps"].write_text(_ps({1: "running", 2: "exited", 3: "running"}))
    assert [(n.id, n.alive, n.port) for n in cluster.nodes] == [
        (1, True, 19092), (2, False, 20092), (3, True, 21092)]
    assert cluster.is_running()
    cluster.stop_node(2, timeout=10)
    cluster.kill_node(3)
    monkeypatch.setattr(readiness, "unlisted_by", lambda nodes, node_id, **_: "")
    cluster.start_node(3)
    with pytest.raises(LabkitError, match="not part of"):
        cluster.kill_node(4)
    cluster.down(purge=True)
    assert calls(fake_docker)[-6:] == [  # start_node asks which nodes run, then each of them
        "ps --all --format json", "stop -t 10 kafka-2", "kill -s SIGKILL kafka-3",
        "start kafka-3", "ps --all --format json", "down -v"]
    assert read_state(cluster.settings) is None


def test_up_when_running_does_nothing(fake_docker: dict[str, Path], tmp_path: Path) -> None:
    fake_docker["ps"].write_text(json.dumps([{"Service": f"kafka-{i}", "State": "running"}
                                             for i in (1, 2, 3)]))
    cluster = make(Settings(home=tmp_path, backend="compose"), "compose")
    assert cluster.up() is cluster and not cluster.started_here
    assert "up -d" not in calls(fake_docker)


def test_up_refuses_while_local_cluster_runs(fake_docker: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=tmp_path, backend="compose")
    write_state(settings, {"backend": "local", "nodes": [{"id": 1, "pid": 4242}]})
    monkeypatch.setattr(compose, "pid_alive", lambda pid, marker=None: True)
    with pytest.raises(BackendError, match="local lab cluster"):
        make(settings, "compose").up()


def test_failed_compose_command_is_one_line(fake_docker: dict[str, Path], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = make(Settings(home=tmp_path, backend="compose"), "compose")
    monkeypatch.setenv("FAKE_RC", "1")
    with pytest.raises(BackendError, match="'docker compose kill -s SIGKILL kafka-1' failed"):
        cluster.kill_node(1)


def test_parse_ps_both_formats() -> None:
    rows = [{"Service": "kafka-1", "State": "running"}, {"Service": "kafka-2", "State": "exited"}]
    assert parse_ps(json.dumps(rows)) == rows
    assert parse_ps("\n".join(map(json.dumps, rows)) + "\n") == rows
    assert parse_ps("") == []


def test_compose_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LABKIT_COMPOSE_FILE", raising=False)
    assert compose.compose_file() == COMPOSE_FILE
    other = tmp_path / "other.yml"
    other.write_text("services: {}\n")
    monkeypatch.setenv("LABKIT_COMPOSE_FILE", str(other))
    assert compose.compose_file() == other
    monkeypatch.setenv("LABKIT_COMPOSE_FILE", str(tmp_path / "missing.yml"))
    with pytest.raises(SettingsError, match=r"LABKIT_COMPOSE_FILE=.*missing\.yml") as info:
        Settings.from_env(home=tmp_path, backend="compose")
    assert "\n" not in str(info.value)


def test_compose_file_absent_is_one_line(tmp_path: Path) -> None:
    """The default file missing (labkit installed without the repo): BackendError at make()."""
    settings = Settings(home=tmp_path)
    object.__setattr__(settings, "compose_file", tmp_path / "none.yml")  # past the validation
    with pytest.raises(BackendError, match="LABKIT_COMPOSE_FILE"):
        make(settings, "compose")


def test_compose_no_longer_needs_mock_or_local() -> None:
    source = Path(compose.__file__).read_text()
    assert "unittest" not in source and "labkit.cluster.local" not in source


def test_environ_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "mine")
    with compose._environ("COMPOSE_PROJECT_NAME", compose.PROJECT):
        assert os.environ["COMPOSE_PROJECT_NAME"] == "labkit"
    assert os.environ["COMPOSE_PROJECT_NAME"] == "mine"
    monkeypatch.delenv("COMPOSE_PROJECT_NAME")
    with compose._environ("COMPOSE_PROJECT_NAME", compose.PROJECT):
        pass
    assert "COMPOSE_PROJECT_NAME" not in os.environ


def test_testcontainers_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "testcontainers", None)
    monkeypatch.setitem(sys.modules, "testcontainers.compose", None)
    monkeypatch.setattr(compose, "docker_engine_available", lambda: True)
    with pytest.raises(BackendError, match=r"pip install 'labkit\[docker\]'") as err:
        make(Settings(home=tmp_path, backend="testcontainers"), "testcontainers")
    assert "\n" not in str(err.value)


def test_testcontainers_unusable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    created: list[dict[str, Any]] = []

    class BrokenCompose:
        def __init__(self, **kwargs: Any) -> None:
            created.append(kwargs)

        def start(self) -> None:
            raise subprocess.CalledProcessError(
                1, ["docker", "compose", "up"],
                stderr=b"pulling\nCannot connect to the Docker daemon")

    module = types.ModuleType("testcontainers.compose")
    module.DockerCompose = BrokenCompose  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "testcontainers", types.ModuleType("testcontainers"))
    monkeypatch.setitem(sys.modules, "testcontainers.compose", module)
    monkeypatch.setattr(compose, "docker_engine_available", lambda: True)
    monkeypatch.setattr(compose, "compose_plugin_available", lambda: True)
    monkeypatch.setattr(compose, "port_free", lambda port: True)
    monkeypatch.setattr(ComposeCluster, "_containers", lambda self: [])
    cluster = make(Settings(home=tmp_path, backend="testcontainers"), "testcontainers")
    assert isinstance(cluster, TestcontainersCluster) and cluster.backend == "testcontainers"
    with pytest.raises(BackendError, match="Cannot connect to the Docker daemon") as err:
        cluster.up()
    assert "\n" not in str(err.value)
    assert created == [{"context": str(REPO), "compose_file_name": "docker-compose.yml"}]
    assert read_state(cluster.settings) is None
