"""Settings: keyword-only, each with a ``LABKIT_*`` environment-variable twin, validated once.

>>> s = Settings.from_env(nodes=1)      # keywords win over the environment
>>> s.home                               # LABKIT_HOME, default ~/.cache/labkit
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from labkit.exceptions import SettingsError

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the lab pins (jars from Maven Central or the release tarball)."""

SCALA_VERSION = "2.13"
DEFAULT_REQUEST_TIMEOUT = 15.0
BACKENDS = ("auto", "local", "external", "compose", "testcontainers")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
DEFAULT_COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
"""The repo's docker-compose.yml (beside the ``labkit`` package in a source checkout)."""

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


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


def _bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not on or off; use 1/true/yes/on or 0/false/no/off")


def _float(name: str, raw: str | float, lo: float, hi: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}={raw!r} is not a number; use one from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={value} is out of range; use one from {lo} to {hi}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Settings:
    """Everything labkit can be told, from keywords or the environment.

    Attributes (environment twin in brackets):
      home:              where jars, cluster data and the state file live [LABKIT_HOME]
      backend:           auto | local | external | compose | testcontainers [LABKIT_BACKEND]
      nodes:             1 or 3 Kafka nodes for the local backend [LABKIT_NODES]
      base_port:         client port of node 1; node i listens on base_port + (i-1)*1000 and
                         its controller on the next port; None picks free ports [LABKIT_BASE_PORT]
      heap_mb:           max heap per node [LABKIT_HEAP_MB]
      start_timeout:     seconds to wait for the cluster to become ready [LABKIT_START_TIMEOUT]
      request_timeout:   seconds labkit's own queries wait for an answer before saying the
                         cluster does not answer [LABKIT_REQUEST_TIMEOUT]
      bootstrap_servers: an external cluster to attach to [LABKIT_BOOTSTRAP_SERVERS]
      time_scale:        factor applied to demo durations (CI runs faster) [LABKIT_TIME_SCALE]
      kafka_home:        an unpacked Apache Kafka release to take the jars from [KAFKA_HOME]
      kafka_mirror:      where release tarballs are downloaded from [LABKIT_KAFKA_MIRROR]
      security_protocol: PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL, for an external
                         cluster [LABKIT_SECURITY_PROTOCOL]
      sasl_mechanism:    PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER | GSSAPI
                         [LABKIT_SASL_MECHANISM]
      sasl_username:     [LABKIT_SASL_USERNAME]
      sasl_password:     shown as *** in repr [LABKIT_SASL_PASSWORD]
      ssl_ca_location:   a CA certificate file (PEM) to trust [LABKIT_SSL_CA_LOCATION]
      compose_file:      the compose backend's file, default the repo's docker-compose.yml
                         [LABKIT_COMPOSE_FILE]
      client_config:     a student's class-cluster file (``sNN.properties``, librdkafka
                         keys): the bootstrap servers and SASL/SSL settings come from it
                         [LABKIT_CLIENT_CONFIG]
      solutions:         exercise solution cells run (instructors, make test)
                         [LABKIT_SOLUTIONS: 1/true/yes/on]
      presenter:         larger charts and fonts, for an instructor's projector
                         [LABKIT_PRESENTER: 1/true/yes/on]
    """

    home: Path
    backend: str = "auto"
    nodes: int = 3
    base_port: int | None = None
    heap_mb: int = 256
    start_timeout: float = 90.0
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    bootstrap_servers: str | None = None
    time_scale: float = 1.0
    kafka_home: Path | None = None
    kafka_mirror: str = "https://archive.apache.org/dist/kafka"
    kafka_version: str = KAFKA_VERSION
    security_protocol: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: Path | None = None
    compose_file: Path = DEFAULT_COMPOSE_FILE
    client_config: Path | None = None
    solutions: bool = False
    presenter: bool = False

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "sasl_password" and value is not None:
                shown.append(f"{f.name}='***'")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

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
        self._check_security()
        if self.compose_file != DEFAULT_COMPOSE_FILE and not Path(self.compose_file).is_file():
            raise SettingsError(
                f"LABKIT_COMPOSE_FILE={self.compose_file} is not a file; point it at the labkit "
                "repo's docker-compose.yml or unset it"
            )

    def _check_security(self) -> None:
        for name in ("security_protocol", "sasl_mechanism"):  # keywords may come in lower case
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, value.strip().upper() or None)
        proto = self.security_protocol
        if proto is not None and proto not in SECURITY_PROTOCOLS:
            raise SettingsError(
                f"LABKIT_SECURITY_PROTOCOL={proto!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
                "; set one of them or unset it"
            )
        mech = self.sasl_mechanism
        if mech is not None and mech not in SASL_MECHANISMS:
            raise SettingsError(
                f"LABKIT_SASL_MECHANISM={mech!r} is not one of {', '.join(SASL_MECHANISMS)}; "
                "set one of them or unset it"
            )
        needs_password = mech in (None, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if (proto or "").startswith("SASL") and needs_password and not (
                self.sasl_username and self.sasl_password):
            raise SettingsError(
                f"LABKIT_SECURITY_PROTOCOL={proto} needs LABKIT_SASL_USERNAME and "
                "LABKIT_SASL_PASSWORD; set both"
            )
        ca = self.ssl_ca_location
        if ca is not None and not Path(ca).is_file():
            raise SettingsError(
                f"LABKIT_SSL_CA_LOCATION={ca} is not a file; point it at the CA certificate "
                "(PEM) or unset it"
            )

    def security_config(self) -> dict[str, str]:
        """The librdkafka settings for SASL/SSL (empty for a plaintext cluster)."""
        conf = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": str(self.ssl_ca_location) if self.ssl_ca_location else None,
        }
        return {k: v for k, v in conf.items() if v}

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
        if (t := _env("LABKIT_REQUEST_TIMEOUT")) is not None:
            raw["request_timeout"] = _float("LABKIT_REQUEST_TIMEOUT", t, 0.5, 600)
        if (bs := _env("LABKIT_BOOTSTRAP_SERVERS")) is not None:
            raw["bootstrap_servers"] = bs
        if (ts := _env("LABKIT_TIME_SCALE")) is not None:
            raw["time_scale"] = _float("LABKIT_TIME_SCALE", ts, 0.01, 100)
        if (kh := _env("KAFKA_HOME")) is not None:
            raw["kafka_home"] = Path(kh).expanduser()
        if (m := _env("LABKIT_KAFKA_MIRROR")) is not None:
            raw["kafka_mirror"] = m.rstrip("/")
        if (sp := _env("LABKIT_SECURITY_PROTOCOL")) is not None:
            raw["security_protocol"] = sp.strip().upper()
        if (sm := _env("LABKIT_SASL_MECHANISM")) is not None:
            raw["sasl_mechanism"] = sm.strip().upper()
        if (su := _env("LABKIT_SASL_USERNAME")) is not None:
            raw["sasl_username"] = su
        if (pw := _env("LABKIT_SASL_PASSWORD")) is not None:
            raw["sasl_password"] = pw
        if (ca := _env("LABKIT_SSL_CA_LOCATION")) is not None:
            raw["ssl_ca_location"] = Path(ca).expanduser()
        if (cf := _env("LABKIT_COMPOSE_FILE")) is not None:
            raw["compose_file"] = Path(cf).expanduser()
        # a student's file, from the variable or the keyword (connect(client_config=...))
        if (cc := overrides.get("client_config") or _env("LABKIT_CLIENT_CONFIG")) is not None:
            raw["client_config"] = path = Path(str(cc)).expanduser()
            raw.update(_from_client_config(path))
        if (so := _env("LABKIT_SOLUTIONS")) is not None:
            raw["solutions"] = _bool("LABKIT_SOLUTIONS", so)
        if (pr := _env("LABKIT_PRESENTER")) is not None:
            raw["presenter"] = _bool("LABKIT_PRESENTER", pr)
        raw.update({k: v for k, v in overrides.items() if v is not None and k != "client_config"})
        for key in ("home", "ssl_ca_location", "compose_file", "kafka_home"):
            if isinstance(raw.get(key), str):
                raw[key] = Path(str(raw[key])).expanduser()
        return cls(**raw)  # type: ignore[arg-type]

    @property
    def student(self) -> str | None:
        """The class-cluster student this lab runs as (LABKIT_CLIENT_CONFIG), else None."""
        return self.sasl_username if self.client_config is not None else None

    def scaled(self, seconds: float) -> float:
        """A demo duration scaled by ``time_scale`` (CI sets LABKIT_TIME_SCALE below 1)."""
        return seconds * self.time_scale


def load_properties(path: Path) -> dict[str, str]:
    """A client properties file (``key=value`` lines, ``#`` comments) as a librdkafka config.
    A missing or unreadable file, or a line without ``=``, is one clear error."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read the client properties {path} ({exc.strerror}); "
                            "ask your instructor for your sNN.properties file") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}, line {n}: {line[:40]!r} is not 'key=value'; fix "
                                "the line or ask for a new file ('labkit class add sNN')")
        out[key.strip()] = value.strip()
    if "bootstrap.servers" not in out:
        raise SettingsError(f"{path} has no bootstrap.servers; ask for a new file")
    return out


_CLIENT_KEYS = {"bootstrap.servers": "bootstrap_servers", "security.protocol": "security_protocol",
                "sasl.mechanism": "sasl_mechanism", "sasl.username": "sasl_username",
                "sasl.password": "sasl_password", "ssl.ca.location": "ssl_ca_location"}


def _from_client_config(path: Path) -> dict[str, object]:
    """The Settings fields a LABKIT_CLIENT_CONFIG file gives (a key labkit does not map is
    an error: it would be silently ignored otherwise)."""
    props = load_properties(path)
    unknown = sorted(set(props) - set(_CLIENT_KEYS))
    if unknown:
        raise SettingsError(f"LABKIT_CLIENT_CONFIG={path}: {unknown[0]!r} is not one of "
                            f"{', '.join(_CLIENT_KEYS)}; remove it")
    raw: dict[str, object] = {_CLIENT_KEYS[k]: v for k, v in props.items()}
    if "ssl_ca_location" in raw:
        ca = Path(str(raw["ssl_ca_location"])).expanduser()
        raw["ssl_ca_location"] = ca if ca.is_absolute() else path.parent / ca
    return raw
