"""Java command lines for Kafka's broker, its storage tool and its CLI tools.

Start-up speed: JVM class-data sharing (AppCDS, as in KIP-975 and the official image). The first
time a Kafka version runs on a given Java, a training node is started with
``-XX:ArchiveClassesAtExit``; later JVMs map that archive with ``-XX:SharedArchiveFile``.
If the archive does not match (other Java, other jars), the JVM ignores it and starts normally.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from labkit.cluster.jars import classpath
from labkit.cluster.java import Java
from labkit.exceptions import KafkaToolError, UsageError
from labkit.settings import SCALA_VERSION
from labkit.validate import near

BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

# `labkit kafka TOOL ...`: the script names of an Apache release, mapped to their main classes.
TOOLS: dict[str, str] = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-dump-log": "org.apache.kafka.tools.DumpLogSegments",  # moved in 4.4 (was kafka.tools)
    "kafka-configs": "org.apache.kafka.tools.ConfigCommand",  # moved in 4.4 (was kafka.admin)
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "kafka-console-share-consumer": "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
    "kafka-storage": STORAGE_TOOL,
}
# Tools that talk to the cluster and take --bootstrap-server (added when the caller omits it).
_NEEDS_BOOTSTRAP = set(TOOLS) - {"kafka-dump-log", "kafka-storage", "kafka-producer-perf-test"}


def kafka_version_of(libs: Path) -> str | None:
    """``4.4.0`` for a folder holding ``kafka_2.13-4.4.0.jar``; None without such a jar."""
    for jar in sorted(libs.glob(f"kafka_{SCALA_VERSION}-*.jar")):
        version = jar.name[len(f"kafka_{SCALA_VERSION}-"):-len(".jar")]
        if version and not version.endswith(("-sources", "-javadoc", "-test")):
            return version
    return None


def resource(name: str) -> Path:
    return Path(str(resources.files("labkit.cluster") / "resources" / name))


@dataclass(frozen=True)
class Jvm:
    """How to launch Kafka's classes: which java, which jars, which CDS archive."""

    java: Java
    libs: Path

    @property
    def classpath(self) -> str:
        return classpath(self.libs)

    @property
    def kafka_version(self) -> str:
        """The Kafka version of the jars in ``libs`` (from ``kafka_2.13-<version>.jar``)."""
        return kafka_version_of(self.libs) or "unknown"

    @property
    def cds_archive(self) -> Path:
        """One archive per Kafka version and Java version: new jars (a KAFKA_HOME upgraded in
        place, or another version) get a new archive instead of a stale one the JVM rejects."""
        def safe(text: str) -> str:
            return "".join(c if c.isalnum() or c in ".-" else "_" for c in text)

        name = f"kafka-{safe(self.kafka_version)}-java-{safe(self.java.version)}.jsa"
        return self.libs.parent / "cds" / name

    def cds_flags(self) -> list[str]:
        archive = self.cds_archive
        return [f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"] if archive.exists() else []

    def broker_cmd(
        self, properties: Path, logs_dir: Path, *, heap_mb: int, train_cds: Path | None = None,
        extra: Sequence[str] = (),
    ) -> list[str]:
        """``java ... kafka.Kafka node.properties``, sized for a laptop; ``extra``: more JVM
        flags (a class node's JMX)."""
        cds = [f"-XX:ArchiveClassesAtExit={train_cds}"] if train_cds else self.cds_flags()
        return [
            str(self.java.path),
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 64)}m",
            # A small heap and the serial collector: the least memory per node (a laptop runs
            # three), short pauses at this heap size, and unused heap is given back.
            "-XX:+UseSerialGC",
            "-XX:MinHeapFreeRatio=10",
            "-XX:MaxHeapFreeRatio=30",
            # Limit JIT work at start (C1 only): the lab's volumes never need C2's peak speed.
            "-XX:TieredStopAtLevel=1",
            "-XX:ReservedCodeCacheSize=64m",
            "-XX:MaxDirectMemorySize=128m",
            "-Djava.awt.headless=true",
            *cds,
            f"-Dlog4j2.configurationFile={resource('log4j2.xml')}",
            f"-Dkafka.logs.dir={logs_dir}",
            *extra,
            "-cp",
            self.classpath,
            BROKER_MAIN,
            str(properties),
        ]

    def tool_cmd(self, main_class: str, args: list[str]) -> list[str]:
        return [
            str(self.java.path),
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            *self.cds_flags(),
            f"-Dlog4j2.configurationFile={resource('tools-log4j2.xml')}",
            "-cp",
            self.classpath,
            main_class,
            *args,
        ]

    def format_storage(self, properties: Path, cluster_id: str,
                       extra: Sequence[str] = ()) -> None:
        """Format a node's log dir with Kafka's own ``StorageTool`` (``extra``: more of its
        arguments, e.g. ``--add-scram``)."""
        cmd = self.tool_cmd(STORAGE_TOOL, ["format", "-t", cluster_id, "-c", str(properties),
                                           *extra])
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            last = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise KafkaToolError(f"kafka-storage format failed: {' | '.join(last)}")


def tool_command(jvm: Jvm, tool: str, args: list[str], bootstrap: str | None) -> list[str]:
    """The command line for one of Kafka's tools, with ``--bootstrap-server`` filled in."""
    if tool not in TOOLS:
        raise UsageError(
            f"unknown Kafka tool {tool!r}{near(tool, TOOLS)}; known tools: "
            f"{', '.join(sorted(TOOLS))}"
        )
    args = list(args)
    if (
        tool in _NEEDS_BOOTSTRAP
        and bootstrap
        and not any(a.startswith("--bootstrap-server") for a in args)
        and "--help" not in args
    ):
        args = ["--bootstrap-server", bootstrap, *args]
    return jvm.tool_cmd(TOOLS[tool], args)


def child_env() -> dict[str, str]:
    """The environment for Kafka JVMs: no inherited JAVA_TOOL_OPTIONS noise, UTF-8."""
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)
    env.setdefault("LC_ALL", "C.UTF-8")
    return env
