"""A genuine Kafka Streams application, run beside the lessons' hand-written processors.

labkit ships one small topology, ``WindowedCount`` (``labkit/cluster/resources/
WindowedCount.java``): it counts the records of each key in event-time tumbling windows with
a grace period and publishes every updated count. :func:`windowed_count` fetches Kafka Streams
from Maven Central (``org.apache.kafka:kafka-streams`` at the lab's Kafka version, with its
runtime dependencies but without RocksDB: the topology keeps its window store in memory),
compiles the topology with ``javac`` and runs it as a JVM of its own::

    app = streams.windowed_count("lesson08.streams", "lesson08.sales", "lesson08.streams-counts",
                                 window=60, grace=20)
    app.wait_running()
    ...
    app.stop()

Everything is cached in ``$LABKIT_HOME/kafka-streams-<version>/``: the jars (about 25 MB, of
which about 3 MB are new to a machine that fetched the broker's jars) and the compiled class
(one folder per version of the source). :func:`prepare` does that in the background while a
lesson goes on.

Output records: key ``"<key>@<window start ms>"``, value ``{"key", "window_start",
"window_end", "count"}`` as JSON.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.cluster.jars import COMPLETE_MARKER, file_lock
from labkit.cluster.java import find_java
from labkit.cluster.jvm import resource
from labkit.cluster.tls import write_private
from labkit.exceptions import (
    JavaNotFoundError,
    KafkaJarsError,
    MavenResolutionError,
    ServiceError,
)
from labkit.kafka.topics import partition_ids
from labkit.moments import announce
from labkit.settings import Settings
from labkit.validate import name as check_name
from labkit.validate import positive
from labkit.waiting import poll_until

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["StreamsApp", "install", "java_properties", "prepare", "stop_all", "windowed_count"]

MAIN_CLASS = "WindowedCount"
SLF4J_VERSION = "1.7.36"  # the slf4j-api kafka-streams 4.4 names; slf4j-simple logs to stderr

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>labkit</groupId><artifactId>kafka-streams-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId>
      <version>{version}</version>
      <exclusions><exclusion><!-- 70 MB; the lab's topology keeps its state in memory -->
        <groupId>org.rocksdb</groupId><artifactId>rocksdbjni</artifactId>
      </exclusion></exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId>
      <version>{slf4j}</version>
    </dependency>
  </dependencies>
</project>
"""

_RUNNING: list[StreamsApp] = []
_LOCK = threading.Lock()


def _home(settings: Settings) -> Path:
    return settings.home / f"kafka-streams-{settings.kafka_version}"


def _fetch_jars(settings: Settings, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaJarsError("Kafka Streams' jars come from Maven Central through mvn, which is "
                             "not on PATH: install Maven (or set KAFKA_HOME to an unpacked Kafka "
                             "release)")
    staging = Path(tempfile.mkdtemp(prefix=".fetch-streams-", dir=settings.home))
    try:
        (staging / "pom.xml").write_text(_POM.format(version=settings.kafka_version,
                                                     slf4j=SLF4J_VERSION))
        cmd = [mvn, "-B", "-q", "-f", str(staging / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={staging / 'libs'}", "-DincludeScope=runtime"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=staging)
        except subprocess.TimeoutExpired:
            raise KafkaJarsError("Maven took over 15 minutes to fetch Kafka Streams") from None
        if out.returncode != 0 or not any((staging / "libs").glob("kafka-streams-*.jar")):
            last = (out.stdout + out.stderr).strip().splitlines()[-1:] or ["no output"]
            raise MavenResolutionError(
                f"Maven could not fetch org.apache.kafka:kafka-streams:{settings.kafka_version} "
                f"({last[0][:200]}); check the network to Maven Central and ~/.m2/settings.xml")
        (staging / "pom.xml").unlink()
        (staging / COMPLETE_MARKER).write_text("maven\n")
        if target.exists():  # a leftover without its marker: never trusted
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _javac() -> str:
    java = find_java()
    beside = java.path.resolve().parent / "javac"
    found = str(beside) if beside.exists() else shutil.which("javac")
    if found is None:
        raise JavaNotFoundError(
            "javac was not found: compiling labkit's Kafka Streams topology needs a JDK 17+, "
            "not only a JRE (e.g. 'apt install openjdk-17-jdk-headless'; or set JAVA_HOME)")
    return found


def _compile(source: Path, libs: Path, classes: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".javac-", dir=classes.parent))
    try:
        out = subprocess.run([_javac(), "-nowarn", "-d", str(staging), "-cp",
                              str(libs / "*"), str(source)],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise ServiceError(f"javac could not compile {source.name}: "
                               + " | ".join(out.stderr.strip().splitlines()[:4]))
        staging.rename(classes)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def install(settings: Settings | None = None) -> tuple[Path, Path]:
    """Fetch Kafka Streams' jars and compile the topology, once (cached): returns (the
    folder of jars, the folder of compiled classes)."""
    settings = settings or Settings.from_env()
    home = _home(settings)
    source = resource(f"{MAIN_CLASS}.java")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    classes = home / f"classes-{digest}"
    libs = home / "jars" / "libs"
    if (libs.parent / COMPLETE_MARKER).exists() and classes.is_dir():
        return libs, classes
    home.mkdir(parents=True, exist_ok=True)
    with file_lock(settings.home / ".install-streams.lock"):
        if not (libs.parent / COMPLETE_MARKER).exists():
            _fetch_jars(settings, libs.parent)
        if not classes.is_dir():
            _compile(source, libs, classes)
    return libs, classes


def prepare(settings: Settings | None = None) -> threading.Thread:
    """Start :func:`install` in a background thread and return at once (a lesson prepares
    Kafka Streams while it does other things; a failure shows when it is used)."""
    settings = settings or Settings.from_env()

    def run() -> None:
        with contextlib.suppress(Exception):  # reported by the install() that needs it
            install(settings)

    thread = threading.Thread(target=run, name="labkit-streams-install", daemon=True)
    thread.start()
    return thread


def java_properties(cluster: Cluster) -> dict[str, str]:
    """The Java client settings that reach ``cluster`` (bootstrap, and SASL/SSL if any)."""
    from labkit.cluster.tools import java_security

    return {"bootstrap.servers": cluster.bootstrap_servers,
            **java_security(cluster.security_config())}


def _die_with_parent() -> None:  # Linux: the JVM gets SIGTERM when the kernel dies
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class StreamsApp:
    """One Kafka Streams application running as a JVM of its own."""

    def __init__(self, application_id: str, properties: dict[str, Any],
                 settings: Settings) -> None:
        self.application_id = application_id
        self.properties = properties
        self.folder = settings.home / "streams" / application_id
        self.log_path = self.folder / "app.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def states(self) -> list[str]:
        """The states the application went through (CREATED, REBALANCING, RUNNING, ...)."""
        return [line[6:] for line in self._lines() if line.startswith("state ")]

    def _lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def tail(self, lines: int = 8) -> str:
        """The end of the application's output (its state changes, warnings and errors)."""
        return " | ".join(self._lines()[-lines:])

    def start(self, libs: Path, classes: Path) -> StreamsApp:
        if self.alive:
            return self
        shutil.rmtree(self.folder, ignore_errors=True)  # fresh local state, as a new instance
        self.folder.mkdir(parents=True)
        conf = self.folder / "app.properties"
        props = {**self.properties, "state.dir": str(self.folder / "state")}
        write_private(conf, "".join(f"{k}={v}\n" for k, v in props.items()))  # credentials
        cmd = [str(find_java().path), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
               "-Dorg.slf4j.simpleLogger.logFile=System.out",
               "-cp", f"{classes}:{libs / '*'}", MAIN_CLASS, str(conf)]
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        with _LOCK:
            _RUNNING.append(self)
        announce(f"Kafka Streams {self.application_id} started")
        return self

    def wait_running(self, timeout: float = 90.0) -> StreamsApp:
        """Wait until the application reports RUNNING (it joined its group and has its
        partitions); ServiceError with its output if it ends first."""
        def running() -> bool:
            if not self.alive:
                raise ServiceError(f"Kafka Streams {self.application_id!r} ended before it ran"
                                   f". Its output: {self.tail()}")
            return "RUNNING" in self.states

        poll_until(f"Kafka Streams {self.application_id!r} to be RUNNING", running,
                   timeout=timeout, interval=0.2, retry_on=(),
                   hint=f"its output is in {self.log_path}")
        return self

    def raise_for_errors(self) -> None:
        """ServiceError if the application reported an error or ended by itself."""
        if any(line.startswith("error ") for line in self._lines()) or "ERROR" in self.states:
            raise ServiceError(f"Kafka Streams {self.application_id!r} failed: {self.tail()}")
        if self._proc is not None and self._proc.poll() not in (None, 0, 143, -signal.SIGTERM):
            raise ServiceError(f"Kafka Streams {self.application_id!r} exited with code "
                               f"{self._proc.returncode}: {self.tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop it cleanly (SIGTERM: its shutdown hook closes Kafka Streams)."""
        if not self.alive:
            return
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
            raise ServiceError(f"Kafka Streams {self.application_id!r} did not stop within "
                               f"{timeout:.0f}s; it was killed. {self.tail()}") from None
        announce(f"Kafka Streams {self.application_id} stopped")

    def __repr__(self) -> str:
        state = (self.states or ["starting"])[-1] if self.alive else "not running"
        return f"<Kafka Streams {self.application_id!r}, {state}>"


def windowed_count(application_id: str, input_topic: str, output_topic: str, *,
                   window: float, grace: float, cluster: Cluster | None = None,
                   **streams_config: Any) -> StreamsApp:
    """Start the ``WindowedCount`` topology: counts per key of ``input_topic`` in tumbling
    windows of ``window`` seconds (event time: the records' timestamps) that accept late
    records for ``grace`` seconds, every update published to ``output_topic``. Returns at
    once; :meth:`StreamsApp.wait_running` waits for it. ``streams_config`` adds Kafka Streams
    settings (dots as underscores)."""
    check_name("application id", application_id)
    window_ms = round(positive("window", window) * 1000)
    grace_ms = round((positive("grace", grace) if grace else 0) * 1000)
    c = resolve(cluster)
    application_id = c.name(application_id)  # a class student's own (its group, its topics)
    input_topic, output_topic = c.name(input_topic), c.name(output_topic)
    for topic in (input_topic, output_topic):
        partition_ids(c, topic)  # an unknown topic fails here, at once
    libs, classes = install(c.settings)
    props: dict[str, Any] = {
        "application.id": application_id, **java_properties(c),
        "input": input_topic, "output": output_topic,
        "window.ms": window_ms, "grace.ms": grace_ms,
        "commit.interval.ms": 100,           # publish and commit often: a lesson watches
        "statestore.cache.max.bytes": 0,     # no cache: every update goes out at once
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,          # a killed instance leaves the group within 6 s
        "heartbeat.interval.ms": 1000,
        **{k.replace("_", "."): v for k, v in streams_config.items()}}
    return StreamsApp(application_id, props, c.settings).start(libs, classes)


def stop_all() -> None:
    """Stop every Kafka Streams application labkit started in this process."""
    with _LOCK:
        running = [a for a in _RUNNING if a.alive]
    for app in running:
        with contextlib.suppress(ServiceError):
            app.stop(15)


atexit.register(stop_all)
