"""Kafka's own tools through labkit: standard input reaches kafka-console-producer."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import labkit


def test_console_producer_reads_its_records_from_input(cluster: labkit.Cluster,
                                                        topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    cluster.kafka("kafka-console-producer", "--topic", topic, "--property", "parse.key=true",
                  "--property", "key.separator=:", input="k1:one\nk2:two\n")
    df = labkit.read(topic, decode=False)
    assert list(zip(df["key"], df["value"], strict=True)) == [(b"k1", b"one"), (b"k2", b"two")]


def test_tools_sign_in_where_the_cluster_needs_credentials(tmp_path: Path) -> None:

    from labkit.cluster.tools import java_client_properties, signed_in

    sec = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
           "sasl.username": "s01", "sasl.password": "pw", "ssl.ca.location": "/c/ca.pem"}
    text = java_client_properties(sec)
    assert "security.protocol=SASL_SSL" in text and "ScramLoginModule required" in text
    assert 'username="s01" password="pw";' in text and "ssl.truststore.location=/c/ca.pem" in text
    secure: Any = SimpleNamespace(security_config=lambda: sec,
                             settings=SimpleNamespace(home=tmp_path))
    args = signed_in(secure, "kafka-topics", ["--list"])
    path = tmp_path / "tools" / "s01.java.properties"
    assert args == ["--command-config", str(path), "--list"] and path.read_text() == text
    assert path.stat().st_mode & 0o777 == 0o600
    assert signed_in(secure, "kafka-dump-log", ["--files", "x"]) == ["--files", "x"]
    plain: Any = SimpleNamespace(security_config=lambda: {}, settings=secure.settings)
    assert signed_in(plain, "kafka-topics", ["--list"]) == ["--list"]
