"""labkit.streams (a Kafka Streams application run as a JVM) and labkit.lab.streamcheck.
Unit tests on the window rule, the Java client settings and the one-line set-up errors; one
test runs the genuine Kafka Streams topology against the real cluster."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

import labkit
from labkit import streams
from labkit.exceptions import JavaNotFoundError, KafkaJarsError, UsageError
from labkit.lab.streamcheck import expected_window_counts, windowed_counts
from labkit.settings import Settings

# (seconds, key) in arrival order: lesson 08's sales, six of them out of order
SCRIPT = [(5, "m"), (12, "f"), (31, "m"), (47, "d"), (58, "m"), (63, "f"), (66, "m"),
          (52, "m"), (71, "d"), (44, "f"), (84, "m"), (57, "d"), (95, "f"), (118, "m"),
          (122, "d"), (108, "f"), (139, "m"), (33, "m"), (146, "f"), (101, "d"), (170, "m")]


def _rows(base: int = 0) -> list[tuple[int, str, int]]:
    return [(0, key, base + s * 1000) for s, key in SCRIPT]


@pytest.mark.parametrize(("grace", "dropped"), [(0, 6), (20, 3), (45, 1), (80, 0)])
def test_grace_decides_what_is_dropped(grace: int, dropped: int) -> None:
    counts, gone = expected_window_counts(_rows(), 60_000, grace * 1000)
    assert gone == dropped
    assert sum(counts.values()) == len(SCRIPT) - dropped


def test_window_boundaries_and_stream_time_per_partition() -> None:
    # a window is [start, start + size): 60 s belongs to the second window; a late record
    # is judged by its own partition's stream time
    counts, gone = expected_window_counts(
        [(0, "a", 59_999), (0, "a", 60_000), (1, "a", 0), (0, "a", 100_000), (0, "a", 1)],
        60_000, 20_000)
    assert counts == {("a", 0): 2, ("a", 60_000): 2}
    assert gone == 1


class _Fake:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.bootstrap_servers = conf.pop("bootstrap.servers")
        self._security = conf

    def security_config(self) -> dict[str, Any]:
        return self._security


def test_java_properties_plain_and_sasl() -> None:
    assert streams.java_properties(_Fake({"bootstrap.servers": "h:1"})) == {  # type: ignore[arg-type]
        "bootstrap.servers": "h:1"}
    props = streams.java_properties(_Fake({  # type: ignore[arg-type]
        "bootstrap.servers": "h:1", "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "ann", "sasl.password": 'p"w',
        "ssl.ca.location": "/ca.pem"}))
    assert props["sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule'
                                         ' required username="ann" password="p\\"w";')
    assert props["ssl.truststore.type"] == "PEM" and props["ssl.truststore.location"] == "/ca.pem"


def test_no_maven_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams.shutil, "which", lambda name, **kw: None)
    with pytest.raises(KafkaJarsError, match="install Maven") as info:
        streams.install(Settings.from_env(home=tmp_path))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "kafka-streams-4.4.0" / "jars").exists()   # nothing half-installed


def test_no_javac_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoJdk:
        path = Path("/nowhere/bin/java")

    monkeypatch.setattr(streams, "find_java", lambda: NoJdk())
    monkeypatch.setattr(streams.shutil, "which", lambda name, **kw: None)
    with pytest.raises(JavaNotFoundError, match="JDK 17"):
        streams._javac()


@pytest.mark.parametrize(("window", "grace"), [(0, 0), (60, -1), ("60", 0)])
def test_bad_windows_fail_before_any_cluster_is_asked(window: Any, grace: Any) -> None:
    with pytest.raises(UsageError):
        streams.windowed_count("app", "in", "out", window=window, grace=grace)


def test_kafka_streams_counts_as_the_rule_says(cluster: labkit.Cluster,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_SOLUTIONS", "0")     # a failing check returns, not raises
    name = f"test-streams-{uuid.uuid4().hex[:8]}"
    source = cluster.fresh_topic(f"{name}.in", partitions=1)
    output = cluster.fresh_topic(f"{name}.out", partitions=1)
    base = (int(time.time()) // 60 - 5) * 60_000
    producer = Producer(cluster.config(acks="all"))
    for s, key in SCRIPT:
        producer.produce(source, key=key, value=b"x", timestamp=base + s * 1000)
    assert producer.flush(30) == 0
    app = streams.windowed_count(name, source, output, window=60, grace=20)
    try:
        app.wait_running()
        cluster.wait_for("Kafka Streams to process every record",
                         lambda: not any(labkit.kafka.lag(cluster, name, source).values()),
                         timeout=60)
        app.raise_for_errors()
    finally:
        app.stop()
    latest = {}
    for value in labkit.read(output, decode=False)["value"]:
        r = json.loads(value)
        latest[r["key"], r["window_start"]] = r["count"]
    want, dropped = expected_window_counts(_rows(base), 60_000, 20_000)
    assert latest == want and dropped == 3
    assert windowed_counts(output, source, window=60, grace=20)
    assert not windowed_counts(output, source, window=60, grace=45)   # a check can fail
    assert not app.alive
    cluster.reset(name)
