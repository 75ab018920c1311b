"""Finding a Java runtime that can run Kafka 4 (Java 17 or newer)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from labkit.exceptions import JavaNotFoundError

MIN_JAVA = 17
_HINT = (
    "Hint: install a JDK 17+ (e.g. 'apt install openjdk-17-jre-headless', "
    "'brew install openjdk@17' or 'conda env create -f environment.yml') and put it on PATH "
    "or set JAVA_HOME"
)


@dataclass(frozen=True)
class Java:
    path: Path
    version: str
    major: int


def parse_java_version(text: str) -> tuple[str, int] | None:
    """Read the version out of ``java -version`` output ("17.0.15", "1.8.0_412", "21")."""
    m = re.search(r'version "([^"]+)"', text)
    if not m:
        return None
    version = m.group(1)
    parts = re.findall(r"\d+", version)
    if not parts:
        return None
    major = int(parts[0])
    if major == 1 and len(parts) > 1:  # 1.8.0 -> 8
        major = int(parts[1])
    return version, major


def find_java(java_home: str | None = None, path_env: str | None = None) -> Java:
    """The java to use: ``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH; must be 17+.

    Cached per resolved JAVA_HOME (and PATH when JAVA_HOME is unset), so setting JAVA_HOME
    in a running kernel takes effect at the next call."""
    if java_home is None:
        java_home = os.environ.get("JAVA_HOME") or ""
    if java_home:
        path_env = None  # not consulted: keep one cache entry per JAVA_HOME
    elif path_env is None:
        path_env = os.environ.get("PATH", os.defpath)
    return _find_java(java_home, path_env)


@functools.cache
def _find_java(java_home: str, path_env: str | None) -> Java:
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if not candidate.exists():
            raise JavaNotFoundError(
                f"JAVA_HOME={java_home} has no bin/java; point JAVA_HOME at a JDK 17+ or unset it"
            )
        where = f"JAVA_HOME={java_home}"
    else:
        found = shutil.which("java", path=path_env)
        if not found:
            raise JavaNotFoundError(
                f"Java was not found on PATH; Kafka needs Java {MIN_JAVA}+. " + _HINT
            )
        candidate = Path(found)
        where = str(candidate)
    try:
        out = subprocess.run(
            [str(candidate), "-version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaNotFoundError(f"could not run {candidate} ({exc}). " + _HINT) from None
    parsed = parse_java_version(out.stderr + out.stdout)
    if parsed is None:
        raise JavaNotFoundError(f"could not read the version of {candidate}. " + _HINT)
    version, major = parsed
    if major < MIN_JAVA:
        raise JavaNotFoundError(
            f"Kafka needs Java {MIN_JAVA} or newer, found Java {version} ({where}). " + _HINT
        )
    return Java(candidate, version, major)


find_java.cache_clear = _find_java.cache_clear  # type: ignore[attr-defined]
