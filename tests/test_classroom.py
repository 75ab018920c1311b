"""The class cluster, for real: three nodes with SASL_SSL on 127.0.0.3, two students, and
what one student can and cannot do to the other (each refusal asserted on Kafka's error
code), quotas, reset, listeners and the credentials files."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from labkit import classroom
from labkit.cluster.classroom import ClassCluster
from labkit.cluster.jars import cache_dir
from labkit.settings import Settings, load_properties
from tests.conftest import assert_one_line_error, run_cli

pytestmark = pytest.mark.cluster

ADDRESS = "127.0.0.3"
PORT = 11092  # below the ephemeral range (32768+): no outgoing connection can sit on it


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassCluster]:
    shared = cache_dir(Settings.from_env())
    home = tmp_path_factory.mktemp("class-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(home))
        mp.setenv("KAFKA_HOME", str(shared))
        mp.delenv("LABKIT_BASE_PORT", raising=False)
        folder = home / "handout"
        t0 = time.monotonic()
        cluster = classroom.up(2, ADDRESS, folder, port=PORT)
        print(f"class cluster up in {time.monotonic() - t0:.1f} s")
        try:
            yield cluster
        finally:
            classroom.down(purge=True)


def _conf(klass: ClassCluster, student: str, **extra: Any) -> dict[str, Any]:
    # quiet: clients a test left to the garbage collector would log reconnects after teardown
    return {**load_properties(klass.spec.folder / f"{student}.properties"), "log_level": 0,
            **extra}


def _create(klass: ClassCluster, student: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient(_conf(klass, student))  # held until the answer came
    admin.create_topics([NewTopic(topic, partitions)])[topic].result(30)


def _code(exc: BaseException) -> int:
    assert isinstance(exc, KafkaException), exc
    return int(exc.args[0].code())


def _produce(conf: dict[str, Any], topic: str, n: int = 10) -> None:
    p = Producer(conf)
    for i in range(n):
        p.produce(topic, key=str(i), value=b"x")
    assert p.flush(30) == 0


def test_a_student_works_in_its_own_prefix_and_not_outside(klass: ClassCluster) -> None:
    a = AdminClient(_conf(klass, "s01"))
    a.create_topics([NewTopic("s01.orders", 3)])["s01.orders"].result(30)
    _produce(_conf(klass, "s01"), "s01.orders")
    c = Consumer(_conf(klass, "s01", **{"group.id": "s01.kitchen",
                                        "auto.offset.reset": "earliest"}))
    try:
        c.subscribe(["s01.orders"])
        got = 0
        deadline = time.monotonic() + 30
        while got < 10 and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                got += 1
        assert got == 10
        c.commit(asynchronous=False)
    finally:
        c.close()
    with pytest.raises(KafkaException) as err:
        a.create_topics([NewTopic("orders", 1)])["orders"].result(30)
    assert _code(err.value) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_student_b_cannot_touch_student_a(klass: ClassCluster) -> None:
    _create(klass, "s01", "s01.secret")
    _produce(_conf(klass, "s01"), "s01.secret", 3)
    b = AdminClient(_conf(klass, "s02"))
    # describe: the topic is not even listed with its partitions
    meta = b.list_topics("s01.secret", timeout=10).topics["s01.secret"]
    assert meta.error is not None and meta.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # delete
    with pytest.raises(KafkaException) as err:
        b.delete_topics(["s01.secret"])["s01.secret"].result(30)
    assert _code(err.value) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # write
    p = Producer(_conf(klass, "s02", **{"message.timeout.ms": 5000}))
    failures: list[KafkaError] = []
    p.produce("s01.secret", b"x", on_delivery=lambda e, _m: failures.append(e))
    p.flush(15)
    assert failures and failures[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # read (no group: assign) and a group of A's
    c = Consumer(_conf(klass, "s02", **{"group.id": "s01.kitchen"}))
    try:
        c.assign([TopicPartition("s01.secret", 0, 0)])
        codes = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not codes:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is not None:
                codes.add(msg.error().code())
            if msg is not None and msg.error() is None:
                pytest.fail("student B read student A's record")
        assert codes & {KafkaError.TOPIC_AUTHORIZATION_FAILED,
                        KafkaError.GROUP_AUTHORIZATION_FAILED}, codes
    finally:
        c.close()
    with pytest.raises(KafkaException) as err:
        b.list_consumer_group_offsets([_group_request("s01.kitchen")])["s01.kitchen"].result(30)
    assert _code(err.value) == KafkaError.GROUP_AUTHORIZATION_FAILED


def _group_request(group: str) -> Any:
    from confluent_kafka import ConsumerGroupTopicPartitions

    return ConsumerGroupTopicPartitions(group)


def test_a_student_cannot_change_acls_or_quotas(klass: ClassCluster, tmp_path: Path) -> None:
    b = AdminClient(_conf(klass, "s02"))
    grab = AclBinding(ResourceType.TOPIC, "s01.", ResourcePatternType.PREFIXED, "User:s02", "*",
                      AclOperation.ALL, AclPermissionType.ALLOW)
    with pytest.raises(KafkaException) as err:
        next(iter(b.create_acls([grab]).values())).result(30)
    assert _code(err.value) == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    conf = _conf(klass, "s02")
    java = tmp_path / "s02.java.properties"
    java.write_text("\n".join([
        "security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="s02" password="{conf["sasl.password"]}";',
        "ssl.truststore.type=PEM", f"ssl.truststore.location={conf['ssl.ca.location']}"]))
    out = klass.kafka("kafka-configs", "--alter", "--entity-type", "users", "--entity-name",
                      "s02", "--add-config", "producer_byte_rate=999999999",
                      "--command-config", str(java), check=False)
    assert out.returncode != 0 and "ClusterAuthorizationException" in out.stdout + out.stderr


def _errors_of(conf: dict[str, Any]) -> list[KafkaError]:
    """The client errors a producer with ``conf`` reports within 20 s of trying to connect."""
    errors: list[KafkaError] = []
    p = Producer({**conf, "error_cb": errors.append, "log_level": 0})
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        p.poll(0.2)
    return errors


def test_a_wrong_password_and_a_plaintext_client_are_refused(klass: ClassCluster) -> None:
    wrong = _errors_of(_conf(klass, "s01", **{"sasl.password": "not-it"}))
    assert any(e.code() == KafkaError._AUTHENTICATION for e in wrong), wrong
    plain = _errors_of({"bootstrap.servers": klass.bootstrap_servers})
    assert plain and not any(e.code() == KafkaError._AUTHENTICATION for e in plain), plain
    # a plaintext client cannot even speak to the TLS listener: transport errors


def test_a_flooding_student_is_throttled_and_the_other_is_not_slowed(
        klass: ClassCluster) -> None:
    _create(klass, "s01", "s01.flood", 3)
    _create(klass, "s02", "s02.calm", 3)
    stats: list[str] = []
    flood = Producer(_conf(klass, "s01", **{"stats_cb": stats.append,
                                            "statistics.interval.ms": 500,
                                            "linger.ms": 20}))
    calm = Producer(_conf(klass, "s02"))
    latencies: list[float] = []
    value = b"x" * 10_000
    end = time.monotonic() + 8
    sent = 0
    while time.monotonic() < end:
        try:
            flood.produce("s01.flood", value)
            sent += 1
        except BufferError:
            flood.poll(0.05)
        if sent % 200 == 0:
            t0 = time.monotonic()
            calm.produce("s02.calm", b"hello",
                         on_delivery=lambda _e, _m, t0=t0: latencies.append(time.monotonic() - t0))
            calm.flush(10)
        flood.poll(0)
    shown = classroom.status(klass)  # while the flood's backlog is still being throttled
    flood.flush(60)
    import json

    throttle = max(b.get("throttle", {}).get("max", 0)
                   for s in stats for b in json.loads(s)["brokers"].values())
    assert throttle > 0, "the flooding student was never throttled"
    assert latencies and sorted(latencies)[len(latencies) // 2] < 1.0, latencies
    # the instructor sees it too: the brokers' own throttle-time metrics, per student
    by = {row["student"]: row["throttle_ms"] for row in shown}
    assert by["s01"] > 0 and by["s02"] == 0, by
    table = run_cli("class", "status")
    assert table.returncode == 0 and "throttle ms" in table.stdout, table.stderr
    rate = sent * len(value) / 8 / 1e6
    print(f"flood offered {rate:.1f} MB/s, throttled up to {throttle} ms; calm student's "
          f"median produce latency {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")


def test_reset_deletes_one_students_topics_and_groups_only(klass: ClassCluster) -> None:
    for s in ("s01", "s02"):
        _create(klass, s, f"{s}.reset-me")
    out = run_cli("class", "reset", "s01")
    assert out.returncode == 0, out.stderr
    topics = set(klass.admin().list_topics(timeout=10).topics)
    assert not [t for t in topics if t.startswith("s01.")]
    assert "s02.reset-me" in topics


def test_listeners_bind_only_where_they_should(klass: ClassCluster) -> None:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    bound = {}
    for line in out.splitlines():
        local = line.split()[3]
        host, _, port = local.rpartition(":")
        bound.setdefault(int(port), set()).add(re.sub(r"^\[?(::ffff:)?|\]$", "", host))
    for i in (1, 2, 3):
        students, controller, internal = klass.spec.ports(i)
        assert bound.get(students) == {ADDRESS}, bound.get(students)
        assert bound.get(controller) == {"127.0.0.1"} and bound.get(internal) == {"127.0.0.1"}
        assert bound.get(klass.spec.jmx_port(i)) == {"127.0.0.1"}  # metrics: loopback only


def test_credentials_are_owner_only(klass: ClassCluster) -> None:
    folder = klass.spec.folder
    for name in ("s01.properties", "s02.properties", "instructor.properties"):
        mode = stat.S_IMODE(os.stat(folder / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert load_properties(folder / "s01.properties")["sasl.username"] == "s01"
    for i in (1, 2, 3):  # the nodes' JMX password and access files
        for name in ("jmx.password", "jmx.access"):
            mode = stat.S_IMODE(os.stat(klass.node_dir(i) / name).st_mode)
            assert mode == 0o600, (i, name, oct(mode))


def test_bad_input_is_one_line(klass: ClassCluster, tmp_path: Path) -> None:
    env = {"LABKIT_HOME": os.environ["LABKIT_HOME"]}
    assert_one_line_error(run_cli("class", "up", "--students", "2", "--host", ADDRESS,
                                  "--dir", str(tmp_path), env=env), "already running")
    assert_one_line_error(run_cli("class", "up", "--students", "2", "--host", "192.0.2.77",
                                  env={"LABKIT_HOME": str(tmp_path / "h")}),
                          "not an address of this machine")
    assert_one_line_error(run_cli("class", "up", "--students", "100", "--host", ADDRESS),
                          "out of range")
    assert_one_line_error(run_cli("class", "up", "--students", "2", "--host", ADDRESS,
                                  "--port", str(PORT), env={"LABKIT_HOME": str(tmp_path / "h2")}),
                          f"port {PORT} on {ADDRESS} is taken")
    assert not (tmp_path / "h2" / "class" / "cluster" / "node-1").exists()  # nothing half-made
    assert_one_line_error(run_cli("class", "add", "s1"), "not a student name")
    with pytest.raises(Exception, match="cannot read the client properties"):
        load_properties(tmp_path / "missing.properties")


STUDENT_RUN = """
import labkit
from labkit import check
c = labkit.connect()
assert c.backend == "external", c.backend
c.fresh_topic("s01.exercise", partitions=2)
print(check.partition_count("s01.exercise", 3).passed)
print(check.partition_count("s01.exercise", 2).passed)
"""


def test_a_students_checks_reach_the_instructor(klass: ClassCluster) -> None:
    import sys

    env = {**os.environ, "LABKIT_CLIENT_CONFIG": str(klass.spec.folder / "s01.properties"),
           "LABKIT_SOLUTIONS": "0"}
    env.pop("LABKIT_HOME", None)  # a student's laptop: nothing but the file
    out = subprocess.run([sys.executable, "-c", STUDENT_RUN], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "True"], out.stdout
    grid = classroom.progress(klass)
    assert grid.loc["s01", "partition_count"] == "✓"  # the latest result counts
    assert grid.loc["s02", "partition_count"] == ""
    shown = run_cli("class", "progress")
    assert shown.returncode == 0 and "partition_count" in shown.stdout, shown.stderr


CONNECT_RUN = """
import sys
import labkit
from labkit import check, inspect
c = labkit.connect(client_config=sys.argv[1])   # no LABKIT_CLIENT_CONFIG: the file given here
assert c.student == "s02", c.student
c.fresh_topic("lesson.exercise", partitions=2)   # the student's own name: s02.lesson.exercise
print(check.partition_count("lesson.exercise", 2).passed, c.name("lesson.exercise"))
print(sorted(inspect.topics()["topic"]))        # a later call without cluster=: still s02
"""


def test_connect_with_a_client_config_works_as_that_student(klass: ClassCluster) -> None:
    env = {**os.environ, "LABKIT_SOLUTIONS": "0"}
    for name in ("LABKIT_HOME", "LABKIT_CLIENT_CONFIG"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", CONNECT_RUN,
                          str(klass.spec.folder / "s02.properties")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    first, topics = out.stdout.splitlines()[:2]
    assert first == "True s02.lesson.exercise", out.stdout
    assert "s02.lesson.exercise" in topics and "s01." not in topics, topics
    assert classroom.progress(klass).loc["s02", "partition_count"] == "✓"


def test_a_missing_client_config_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("status", env={"LABKIT_CLIENT_CONFIG": str(tmp_path / "x")}),
                          "cannot read the client properties")
    bad = tmp_path / "bad.properties"
    bad.write_text("bootstrap.servers=127.0.0.3:1\ngroup.id=oops\n")
    assert_one_line_error(run_cli("status", env={"LABKIT_CLIENT_CONFIG": str(bad)}),
                          "'group.id' is not one of")


@pytest.mark.parametrize("lesson", ["00", "07"])
def test_a_lesson_runs_as_a_student_of_the_class(klass: ClassCluster, tmp_path: Path,
                                                lesson: str) -> None:
    """nbval on a lesson with s02's file: its names get the s02. prefix, and the cells that
    need the lab's own cluster (segment files on disk, killing a node) say they are skipped
    instead of failing. 00: the log; 07: transactions and member processes."""
    from labkit import connect
    from labkit.lab import requires

    root = Path(__file__).parents[1]
    env = {**os.environ, "LABKIT_CLIENT_CONFIG": str(klass.spec.folder / "s02.properties"),
           "LABKIT_HOME": str(tmp_path), "LABKIT_SOLUTIONS": "1", "LABKIT_TIME_SCALE": "0.5"}
    env.pop("LABKIT_BASE_PORT", None)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "--nbval-cell-timeout=300",
         *root.glob(f"notebooks/{lesson}-*.ipynb")],
        cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
    with pytest.MonkeyPatch.context() as mp:
        for key in ("LABKIT_CLIENT_CONFIG", "LABKIT_HOME"):
            mp.setenv(key, env[key])
        student = connect(start=False)
        assert student.student == "s02"
        ours = f"s02.lesson{lesson}."
        assert any(t.startswith(ours) for t in student.admin().list_topics(timeout=10).topics)
        assert "Skipped: this cell reads segment files" in str(requires.missing(["disk"]))
        assert "Skipped: this cell stops, kills" in str(requires.missing(["nodes"]))
    grid = classroom.progress(klass)
    assert (grid.loc["s02"] == "✓").sum() >= 3  # the lesson's checks reached class.progress


def test_the_instructor_notebook_shows_the_class_live(klass: ClassCluster) -> None:
    """instructor/class-progress.ipynb, run as the instructor (the fixture's LABKIT_HOME):
    its grid shows s02's passed checks (from the lesson-00 test above, or produced here)."""
    import nbformat
    from nbclient import NotebookClient

    from labkit.lab import progress

    with pytest.MonkeyPatch.context() as mp:  # one passed check of s02's, whatever ran before
        mp.setenv("LABKIT_CLIENT_CONFIG", str(klass.spec.folder / "s02.properties"))
        assert progress.report("partition_count", True, "topic has 6 partitions")
    root = Path(__file__).parents[1]
    nb = nbformat.read(root / "instructor" / "class-progress.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_TIME_SCALE", "0.01")  # 6 s of redrawing instead of 10 minutes
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(root)}}).execute()
    shown = [o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
             for o in c.get("outputs", [])]
    table = next(h for h in shown if "class progress at" in h)
    assert "<th>s02</th>" in table and "✓" in table and "partition_count" in table
