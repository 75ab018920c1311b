"""Getting genuine Apache Kafka jars, in this order:

1. ``KAFKA_HOME``: an unpacked Apache Kafka release (its ``libs/``);
2. the labkit cache (``$LABKIT_HOME/kafka_2.13-<version>/libs``), filled by 3 or 4 below;
3. Maven Central through ``mvn``: ``kafka_2.13`` plus the logging binding it lacks and
   ``kafka-tools`` for the command-line tools;
4. the Apache release tarball, checked against its published SHA-512.

A fetch is assembled in a temporary folder next to the cache and renamed into place only when
complete, so a failed or interrupted fetch leaves nothing half-installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from labkit.exceptions import ChecksumError, KafkaJarsError, MavenResolutionError
from labkit.settings import SCALA_VERSION, Settings

# Kafka 4.4 logs through slf4j-api 1.7.36 (kafka_2.13's pom), so log4j-slf4j-impl (not
# -slf4j2-impl) is the matching binding; 2.25.5 is the log4j-api/-core kafka-server 4.4.0 names.
LOG4J_VERSION = "2.25.5"
COMPLETE_MARKER = ".complete"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>labkit</groupId><artifactId>kafka-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def maven_artifacts(version: str) -> list[tuple[str, str, str]]:
    """(group, artifact, version) of everything the lab's broker and tools need."""
    return [
        ("org.apache.kafka", f"kafka_{SCALA_VERSION}", version),
        ("org.apache.kafka", "kafka-tools", version),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION),
    ]


def cache_dir(settings: Settings) -> Path:
    return settings.home / f"kafka_{SCALA_VERSION}-{settings.kafka_version}"


def _has_kafka(libs: Path, version: str | None = None) -> bool:
    pattern = f"kafka_{SCALA_VERSION}-{version or '*'}.jar"
    return libs.is_dir() and any(libs.glob(pattern))


def classpath(libs: Path) -> str:
    """A stable, explicit classpath (sorted), so JVM class-data sharing archives stay valid."""
    return ":".join(str(p) for p in sorted(libs.glob("*.jar")))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (other labkit processes wait for it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def find_libs(settings: Settings, *, fetch: bool = True) -> Path:
    """The folder holding Kafka's jars, fetching them into the cache if needed."""
    if settings.kafka_home is not None:
        libs = settings.kafka_home / "libs"
        if not _has_kafka(libs):
            raise KafkaJarsError(
                f"KAFKA_HOME={settings.kafka_home} has no libs/kafka_{SCALA_VERSION}-*.jar; "
                "point it at an unpacked Apache Kafka release or unset it"
            )
        return libs
    target = cache_dir(settings)
    if (target / COMPLETE_MARKER).exists():
        return target / "libs"
    if not fetch:
        raise KafkaJarsError(
            f"Kafka {settings.kafka_version} is not installed in {target}; run 'labkit install'"
        )
    with file_lock(settings.home / ".install.lock"):
        if (target / COMPLETE_MARKER).exists():  # another process finished meanwhile
            return target / "libs"
        return _fetch_into_cache(settings, target)


def _fetch_into_cache(settings: Settings, target: Path) -> Path:
    settings.home.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    maven_failed = False  # Maven answered but could not resolve: that is the error to report
    for fetcher in (_fetch_with_maven, _fetch_release):
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=settings.home))
        try:
            fetcher(settings, staging)
            if not _has_kafka(staging / "libs", settings.kafka_version):
                raise KafkaJarsError(f"the fetch brought no kafka_{SCALA_VERSION} jar")
            (staging / COMPLETE_MARKER).write_text(fetcher.__name__ + "\n")
            if target.exists():  # a leftover without its marker: never trusted
                shutil.rmtree(target)
            staging.rename(target)
            return target / "libs"
        except KafkaJarsError as exc:
            maven_failed = maven_failed or isinstance(exc, MavenResolutionError)
            failures.append(str(exc))
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    if maven_failed:
        raise MavenResolutionError(
            f"{'; and '.join(failures)}. Hint: check the network to Maven Central and "
            "~/.m2/settings.xml, or set KAFKA_HOME to an unpacked Kafka release"
        )
    raise KafkaJarsError(
        f"no source for the Kafka {settings.kafka_version} jars: KAFKA_HOME is unset, "
        f"the cache {target} is empty, and {'; and '.join(failures)}. Hint: install Maven "
        f"(or Java+Maven via environment.yml), or set KAFKA_HOME to an unpacked Kafka release"
    )


def _fetch_with_maven(settings: Settings, staging: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaJarsError("Maven (mvn) is not on PATH")
    deps = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in maven_artifacts(settings.kafka_version)
    )
    (staging / "pom.xml").write_text(_POM.format(deps=deps))
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(staging / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging / 'libs'}",
        "-DincludeScope=runtime",
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=staging)
    except subprocess.TimeoutExpired:
        raise KafkaJarsError("Maven took over 15 minutes to resolve Kafka's jars") from None
    if out.returncode != 0:
        raise MavenResolutionError(
            f"Maven could not resolve {_failed_artifact(out.stdout + out.stderr, settings)}"
        )
    (staging / "pom.xml").unlink()


def _failed_artifact(output: str, settings: Settings) -> str:
    """Name the artifact Maven choked on, from its error output."""
    coord = r"[\w.\-]+:[\w.\-]+:(?:jar|pom)(?::[\w.\-]+)?:[\w.\-]+"
    for line in output.splitlines():
        if re.search(r"could not|failed to|not found|cannot", line, re.IGNORECASE):
            for m in re.findall(coord, line):
                if not m.startswith("labkit:"):  # our own throw-away pom
                    return str(m)
    return f"org.apache.kafka:kafka_{SCALA_VERSION}:{settings.kafka_version} (see 'mvn' output)"


def release_urls(settings: Settings) -> tuple[str, str]:
    name = f"kafka_{SCALA_VERSION}-{settings.kafka_version}.tgz"
    base = f"{settings.kafka_mirror}/{settings.kafka_version}/{name}"
    return base, base + ".sha512"


def parse_sha512(text: str) -> str:
    """Read a .sha512 file: Apache's ``name: AB12 CD34 ...`` layout or ``hex  name``."""
    text = text.strip()
    first = text.split()[0] if text else ""
    if re.fullmatch(r"[0-9a-fA-F]{128}", first):
        return first.lower()
    hexdigits = "".join(re.findall(r"[0-9a-fA-F]+", text.split(":", 1)[-1]))
    if len(hexdigits) != 128:
        raise ChecksumError("the published .sha512 file has no SHA-512 digest in it")
    return hexdigits.lower()


def _fetch_release(settings: Settings, staging: Path) -> None:
    url, sha_url = release_urls(settings)
    tgz = staging / "kafka.tgz"
    try:
        with urllib.request.urlopen(sha_url, timeout=30) as resp:
            expected = parse_sha512(resp.read().decode("ascii", "replace"))
        with urllib.request.urlopen(url, timeout=60) as resp, open(tgz, "wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except (OSError, ValueError) as exc:
        raise KafkaJarsError(f"the release download from {url} failed ({exc})") from None
    digest = hashlib.sha512()
    with open(tgz, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ChecksumError(
            f"{url} does not match its published SHA-512 (got {digest.hexdigest()[:16]}…, "
            f"expected {expected[:16]}…); nothing was installed. Try again or use Maven"
        )
    libs = staging / "libs"
    libs.mkdir()
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "libs" and member.isfile():
                member.name = parts[2]
                tar.extract(member, libs, filter="data")
    tgz.unlink()
