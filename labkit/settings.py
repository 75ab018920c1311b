"""Settings: keyword-only, each with a ``LABKIT_*`` environment-variable twin, validated once.

>>> s = Settings.from_env(nodes=1)      # keywords win over the environment
>>> s.home                               # LABKIT_HOME, default ~/.cache/labkit
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from labkit.exceptions import SettingsError

KAFKA_VERSION = "4.1.1"
"""The Apache Kafka release the lab pins (jars from Maven Central or the release tarball)."""

SCALA_VERSION = "2.13"
BACKENDS = ("auto", "local", "external", "compose", "testcontainers")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _int(name: str, raw: str | int, lo: int, hi: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{name}={raw!r} is not a whole number; use one from {lo} to {hi}"
        ) from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value} is out of range; use one from {lo} to {hi}")
    return value


def _float(name: str, raw: str | float, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}={raw!r} is not a number; use one from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value} is out of range; use one from {lo} to {hi}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything labkit can be told, from keywords or the environment.

    Attributes (environment twin in brackets):
      home:              where jars, cluster data and the state file live [LABKIT_HOME]
      backend:           auto | local | external | compose | testcontainers [LABKIT_BACKEND]
      nodes:             1 or 3 Kafka nodes for the local backend [LABKIT_NODES]
      base_port:         client port of node 1; node i listens on base_port + (i-1)*10000 and
                         its controller on the next port; None picks free ports [LABKIT_BASE_PORT]
      heap_mb:           max heap per node [LABKIT_HEAP_MB]
      start_timeout:     seconds to wait for the cluster to become ready [LABKIT_START_TIMEOUT]
      bootstrap_servers: an external cluster to attach to [LABKIT_BOOTSTRAP_SERVERS]
      time_scale:        factor applied to demo durations (CI runs faster) [LABKIT_TIME_SCALE]
      kafka_home:        an unpacked Apache Kafka release to take the jars from [KAFKA_HOME]
      kafka_mirror:      where release tarballs are downloaded from [LABKIT_KAFKA_MIRROR]
    """

    home: Path
    backend: str = "auto"
    nodes: int = 3
    base_port: int | None = None
    heap_mb: int = 256
    start_timeout: float = 90.0
    bootstrap_servers: str | None = None
    time_scale: float = 1.0
    kafka_home: Path | None = None
    kafka_mirror: str = "https://archive.apache.org/dist/kafka"
    kafka_version: str = KAFKA_VERSION

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SettingsError(
                f"unknown backend {self.backend!r} (LABKIT_BACKEND); "
                f"choose one of {', '.join(BACKENDS)}"
            )
        if self.nodes not in (1, 3):
            raise SettingsError(f"LABKIT_NODES={self.nodes}: the lab runs 1 or 3 Kafka nodes")
        if self.base_port is not None and not 1024 <= self.base_port <= 45000:
            raise SettingsError(
                f"LABKIT_BASE_PORT={self.base_port} is out of range; use one from 1024 to 45000"
            )
        if self.backend == "external" and not self.bootstrap_servers:
            raise SettingsError(
                "the external backend needs LABKIT_BOOTSTRAP_SERVERS (e.g. host:9092); "
                "set it or unset LABKIT_BACKEND"
            )

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read ``LABKIT_*`` variables; keyword ``overrides`` (not None) take precedence."""
        raw: dict[str, object] = {}
        home = _env("LABKIT_HOME")
        raw["home"] = Path(home).expanduser() if home else Path.home() / ".cache" / "labkit"
        if (b := _env("LABKIT_BACKEND")) is not None:
            raw["backend"] = b.strip().lower()
        if (n := _env("LABKIT_NODES")) is not None:
            raw["nodes"] = _int("LABKIT_NODES", n, 1, 3)
        if (p := _env("LABKIT_BASE_PORT")) is not None:
            raw["base_port"] = _int("LABKIT_BASE_PORT", p, 1024, 45000)
        if (h := _env("LABKIT_HEAP_MB")) is not None:
            raw["heap_mb"] = _int("LABKIT_HEAP_MB", h, 128, 8192)
        if (t := _env("LABKIT_START_TIMEOUT")) is not None:
            raw["start_timeout"] = _float("LABKIT_START_TIMEOUT", t, 1, 3600)
        if (bs := _env("LABKIT_BOOTSTRAP_SERVERS")) is not None:
            raw["bootstrap_servers"] = bs
        if (ts := _env("LABKIT_TIME_SCALE")) is not None:
            raw["time_scale"] = _float("LABKIT_TIME_SCALE", ts, 0.01, 100)
        if (kh := _env("KAFKA_HOME")) is not None:
            raw["kafka_home"] = Path(kh).expanduser()
        if (m := _env("LABKIT_KAFKA_MIRROR")) is not None:
            raw["kafka_mirror"] = m.rstrip("/")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(raw.get("home"), str):
            raw["home"] = Path(str(raw["home"])).expanduser()
        return cls(**raw)  # type: ignore[arg-type]

    def scaled(self, seconds: float) -> float:
        """A demo duration scaled by ``time_scale`` (CI sets LABKIT_TIME_SCALE below 1)."""
        return seconds * self.time_scale
