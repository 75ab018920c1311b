"""Kafka's JVM command lines and the class-data sharing archive (no JVM runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.cluster.java import Java
from labkit.cluster.jvm import BROKER_MAIN, Jvm, kafka_version_of, resource, tool_command
from labkit.exceptions import UsageError


def _jvm(tmp_path: Path, version: str = "4.4.0") -> Jvm:
    libs = tmp_path / "kafka" / "libs"
    libs.mkdir(parents=True)
    for name in (f"kafka_2.13-{version}.jar", f"kafka-clients-{version}.jar", "a.jar"):
        (libs / name).write_bytes(b"")
    return Jvm(Java(Path("/opt/jdk/bin/java"), "17.0.15", 17), libs)


def test_kafka_version_of_the_jars(tmp_path: Path) -> None:
    jvm = _jvm(tmp_path)
    assert kafka_version_of(jvm.libs) == "4.4.0" == jvm.kafka_version
    assert kafka_version_of(tmp_path) is None


def test_cds_archive_is_per_kafka_and_java_version(tmp_path: Path) -> None:
    """A new Kafka version (e.g. KAFKA_HOME upgraded in place) gets a new archive."""
    jvm = _jvm(tmp_path)
    assert jvm.cds_archive == jvm.libs.parent / "cds" / "kafka-4.4.0-java-17.0.15.jsa"
    (jvm.libs / "kafka_2.13-4.4.0.jar").rename(jvm.libs / "kafka_2.13-4.5.0.jar")
    assert jvm.cds_archive.name == "kafka-4.5.0-java-17.0.15.jsa"


def test_broker_command_line(tmp_path: Path) -> None:
    jvm = _jvm(tmp_path)
    props, logs = tmp_path / "node.properties", tmp_path / "node-1"
    cmd = jvm.broker_cmd(props, logs, heap_mb=256)
    assert cmd[0] == "/opt/jdk/bin/java" and cmd[-2:] == [BROKER_MAIN, str(props)]
    assert "-Xmx256m" in cmd and "-Xms64m" in cmd and "-XX:+UseSerialGC" in cmd
    assert f"-Dlog4j2.configurationFile={resource('log4j2.xml')}" in cmd
    assert f"-Dkafka.logs.dir={logs}" in cmd
    classpath = cmd[cmd.index("-cp") + 1].split(":")
    assert classpath == sorted(classpath) and len(classpath) == 3  # stable: CDS stays valid
    assert not [a for a in cmd if "SharedArchiveFile" in a]  # no archive yet
    jvm.cds_archive.parent.mkdir(parents=True)
    jvm.cds_archive.write_bytes(b"x")
    assert f"-XX:SharedArchiveFile={jvm.cds_archive}" in jvm.broker_cmd(props, logs, heap_mb=256)
    train = jvm.broker_cmd(props, logs, heap_mb=512, train_cds=tmp_path / "t.jsa")
    assert f"-XX:ArchiveClassesAtExit={tmp_path / 't.jsa'}" in train and "-Xmx512m" in train
    assert not [a for a in train if "SharedArchiveFile" in a]


def test_log4j_config_writes_server_log() -> None:
    text = resource("log4j2.xml").read_text()
    assert 'fileName="${sys:kafka.logs.dir}/server.log"' in text


def test_tool_command_adds_the_bootstrap_server(tmp_path: Path) -> None:
    jvm = _jvm(tmp_path)
    cmd = tool_command(jvm, "kafka-topics", ["--list"], "127.0.0.1:1")
    assert cmd[-3:] == ["--bootstrap-server", "127.0.0.1:1", "--list"]
    assert tool_command(jvm, "kafka-dump-log", ["--files", "x"], "127.0.0.1:1")[-2:] == [
        "--files", "x"]
    with pytest.raises(UsageError, match=r"unknown Kafka tool 'kafka-nope'"):
        tool_command(jvm, "kafka-nope", [], None)


def test_every_tool_main_class_is_in_the_jars() -> None:
    """Kafka moves tools between releases (4.4: DumpLogSegments and ConfigCommand left
    kafka.tools/kafka.admin for org.apache.kafka.tools): each mapped class must exist."""
    import zipfile

    from labkit.cluster.jars import find_libs
    from labkit.cluster.jvm import TOOLS
    from labkit.exceptions import KafkaJarsError
    from labkit.settings import Settings

    try:
        libs = find_libs(Settings.from_env(), fetch=False)
    except KafkaJarsError:
        pytest.skip("Kafka's jars are not installed ('labkit install')")
    classes = set()
    for jar in libs.glob("*.jar"):
        with zipfile.ZipFile(jar) as z:
            classes.update(n[:-6].replace("/", ".") for n in z.namelist() if n.endswith(".class"))
    missing = {tool: main for tool, main in {**TOOLS, "broker": BROKER_MAIN}.items()
               if main not in classes}
    assert not missing
