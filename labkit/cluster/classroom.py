"""The class cluster: three genuine Kafka nodes on the instructor's machine, for a whole class.

Separate from the lab cluster (its own home ``<LABKIT_HOME>/class``, data, ports and state
file; both can run at once). Listeners, per node:

- ``STUDENTS`` on ADDRESS only: SASL_SSL, SCRAM-SHA-512, a certificate for ADDRESS signed by
  the class's own CA (:mod:`labkit.cluster.tls`). The only listener off loopback;
- ``INTERNAL`` (broker to broker) and ``CONTROLLER`` (KRaft) on 127.0.0.1: SASL_PLAINTEXT with
  PLAIN and a random password of the class, so no anonymous client is trusted even there.

``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``: nothing is allowed that
an ACL does not allow; ``admin`` (the nodes) and ``instructor`` are super users. Students,
ACLs and quotas are made by :mod:`labkit.classroom`.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import socket
from pathlib import Path
from typing import Any

from labkit.cluster.base import NodeInfo
from labkit.cluster.jars import find_libs
from labkit.cluster.java import find_java
from labkit.cluster.jmx import MONITOR, jmx_flags, write_jmx_files
from labkit.cluster.jmx import query as jmx_query
from labkit.cluster.jvm import Jvm
from labkit.cluster.local import LocalCluster
from labkit.cluster.ports import PORT_STEP
from labkit.cluster.properties import broker_properties
from labkit.cluster.tls import make_broker_cert, make_ca, write_private
from labkit.exceptions import PortInUseError, UsageError
from labkit.settings import Settings, load_properties

__all__ = ["CLASS_BASE_PORT", "INSTRUCTOR", "ClassCluster", "ClassSpec", "check_address",
           "class_home", "class_properties", "load_properties", "read_spec"]

CLASS_BASE_PORT = 14092  # node i: students base+(i-1)*1000, controller +1, internal +2
INSTRUCTOR = "instructor"
NODES_USER = "admin"
SCRAM = "SCRAM-SHA-512"

def class_home(settings: Settings) -> Path:
    return settings.home / "class"


@dataclasses.dataclass(frozen=True)
class ClassSpec:
    """What ``labkit class up`` was given; kept in ``<class home>/class.json``."""

    address: str
    students: int
    base_port: int
    folder: Path  # where the credentials files go

    def ports(self, node_id: int) -> tuple[int, int, int]:
        """(students, controller, internal) ports of node ``node_id``."""
        p = self.base_port + (node_id - 1) * PORT_STEP
        return p, p + 1, p + 2

    def jmx_port(self, node_id: int) -> int:
        """Node ``node_id``'s JMX port, on 127.0.0.1 (see :mod:`labkit.cluster.jmx`)."""
        return self.ports(node_id)[2] + 1

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "folder": str(self.folder)}, indent=1)


def read_spec(settings: Settings) -> ClassSpec | None:
    path = class_home(settings) / "class.json"
    try:
        raw = json.loads(path.read_text())
        return ClassSpec(address=raw["address"], students=int(raw["students"]),
                         base_port=int(raw["base_port"]), folder=Path(raw["folder"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{path} is not readable; 'labkit class down --purge' removes the "
                         "class") from None


def check_address(address: str) -> None:
    """ADDRESS must be one of this machine's: a server can listen on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, 0))
        except (OSError, UnicodeError):
            raise UsageError(f"{address} is not an address of this machine; use one 'ip addr' "
                             "lists (e.g. the classroom network's), or 127.0.0.2 to try it "
                             "alone") from None


def _free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def _secrets(home: Path) -> dict[str, str]:
    """The class's own passwords (nodes' PLAIN login, the instructor's SCRAM), made once."""
    path = home / "secrets.json"
    made = dict(json.loads(path.read_text())) if path.exists() else {}
    if all(made.get(u) for u in (NODES_USER, INSTRUCTOR, MONITOR)):
        return made
    made = {u: made.get(u) or secrets.token_urlsafe(24) for u in (NODES_USER, INSTRUCTOR, MONITOR)}
    write_private(path, json.dumps(made))
    return made


def _user_of(metric: str) -> str | None:
    """``s01`` from ``kafka.server:type=Produce,user=s01:throttle-time``."""
    for part in metric.rsplit(":", 1)[0].split(","):
        key, _, value = part.partition("=")
        if key == "user" and value:
            return value
    return None


def _jaas_plain(password: str) -> str:
    return ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{NODES_USER}" password="{password}" user_{NODES_USER}="{password}";')


def class_properties(node_id: int, spec: ClassSpec, node_dir: Path, keystore: Path,
                     nodes_password: str) -> str:
    """A class node's ``node.properties``: the lab node's settings (each explained), with the
    listeners and security of a class cluster instead of the lab's loopback PLAINTEXT."""
    ports = {i: spec.ports(i)[:2] for i in (1, 2, 3)}
    port, cport, iport = spec.ports(node_id)
    changes: dict[str, Any] = {
        "listeners": f"STUDENTS://{spec.address}:{port},INTERNAL://127.0.0.1:{iport},"
                     f"CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"STUDENTS://{spec.address}:{port},INTERNAL://127.0.0.1:{iport}",
        "inter.broker.listener.name": "INTERNAL",
        "listener.security.protocol.map": "STUDENTS:SASL_SSL,INTERNAL:SASL_PLAINTEXT,"
                                          "CONTROLLER:SASL_PLAINTEXT",
    }
    lab = broker_properties(node_id, ports, node_dir / "data", 3)
    lines = [f"{k}={changes.pop(k)}" if (k := line.split("=", 1)[0]) in changes else line
             for line in lab.splitlines()]
    lines[lines.index("# Loopback only: the lab never listens on 0.0.0.0")] = (
        "# A class cluster: students reach ADDRESS over SASL_SSL; nodes talk on loopback")
    jaas = _jaas_plain(nodes_password)
    extra = {
        "# Students: SCRAM-SHA-512 over TLS (a certificate for ADDRESS, the class's own CA)": None,
        "listener.name.students.sasl.enabled.mechanisms": SCRAM,
        f"listener.name.students.{SCRAM.lower()}.sasl.jaas.config":
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.students.ssl.keystore.type": "PEM",
        "listener.name.students.ssl.keystore.location": keystore,
        "# Nodes: PLAIN with the class's own password, on 127.0.0.1 only": None,
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.internal.plain.sasl.jaas.config": jaas,
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": jaas,
        "# Nothing is allowed that an ACL does not allow; the nodes and the instructor": None,
        "# are super users": None,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{NODES_USER};User:{INSTRUCTOR}",
    }
    lines += [k if v is None else f"{k}={v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


class ClassCluster(LocalCluster):
    """The class cluster (see the module's doc); ``labkit class up`` starts it."""

    backend = "class"

    def __init__(self, lab: Settings, spec: ClassSpec, *, jvm: Jvm | None = None) -> None:
        home = class_home(lab)
        settings = dataclasses.replace(  # the instructor's: never a student's credentials
            lab, home=home, nodes=3, base_port=None, backend="local", bootstrap_servers=None,
            client_config=None, security_protocol=None, sasl_mechanism=None,
            sasl_username=None, sasl_password=None, ssl_ca_location=None)
        super().__init__(settings, jvm=jvm)
        self.spec = spec
        self.lab_settings = lab
        self._passwords: dict[str, str] | None = None

    @property
    def passwords(self) -> dict[str, str]:
        """The class's own passwords (made on first use, then read once per instance)."""
        if self._passwords is None:
            self._passwords = _secrets(self.settings.home)
        return self._passwords

    @property
    def cluster_dir(self) -> Path:
        return self.settings.home / "cluster"

    @property
    def jvm(self) -> Jvm:
        if self._jvm is None:  # the lab's jars (never a second download into the class home)
            self._jvm = Jvm(find_java(), find_libs(self.lab_settings))
        return self._jvm

    @property
    def ca(self) -> Path:
        return self.settings.home / "ca.pem"

    @property
    def nodes(self) -> list[NodeInfo]:
        return [dataclasses.replace(n, host=self.spec.address) for n in super().nodes]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.spec.address}:{self.spec.ports(i)[0]}" for i in (1, 2, 3))

    def security_config(self) -> dict[str, str]:
        return {"security.protocol": "SASL_SSL", "sasl.mechanism": SCRAM,
                "sasl.username": INSTRUCTOR,
                "sasl.password": self.passwords[INSTRUCTOR],
                "ssl.ca.location": str(self.ca)}

    def _choose_ports(self) -> dict[int, tuple[int, int]]:
        for i in (1, 2, 3):
            port, cport, iport = self.spec.ports(i)
            for addr, p in ((self.spec.address, port), ("127.0.0.1", cport),
                            ("127.0.0.1", iport), ("127.0.0.1", self.spec.jmx_port(i))):
                if not _free(addr, p):
                    raise PortInUseError(
                        f"port {p} on {addr} is taken; free it or choose another base with "
                        f"'labkit class up --port N' (now {self.spec.base_port})")
        return {i: self.spec.ports(i)[:2] for i in (1, 2, 3)}

    def up(self) -> ClassCluster:
        self.passwords  # noqa: B018 -- made once, before the nodes are prepared side by side
        self._keystore(renew=True)
        super().up()
        return self

    def _keystore(self, *, renew: bool = False) -> Path:
        """The broker certificate for ADDRESS, signed by the class's CA (made once: students
        keep trusting ``ca.pem`` across restarts); ``renew`` makes the certificate afresh."""
        keystore = self.settings.home / "broker.pem"
        ca_key = self.settings.home / "ca-key.pem"
        if not (self.ca.exists() and ca_key.exists()):
            make_ca(self.settings.home)
            renew = True
        if renew or not keystore.exists():
            make_broker_cert(self.ca, ca_key, self.spec.address, keystore)
        return keystore

    def _node_properties(self, node_id: int, ports: dict[int, tuple[int, int]],
                         node_dir: Path) -> str:
        password = self.passwords[NODES_USER]
        return class_properties(node_id, self.spec, node_dir, self._keystore(), password)

    def _jvm_flags(self, node_id: int) -> list[str]:
        # one password file per node: the JVM rewrites it (hashing the password) on start
        secret, access = write_jmx_files(self.node_dir(node_id), self.passwords[MONITOR])
        return jmx_flags(self.spec.jmx_port(node_id), secret, access)

    def throttle_times(self) -> dict[str, float]:
        """Per user, the longest average time (ms) Kafka held its responses back for its
        quotas (produce, fetch or request time) on any node, over the quota window (about
        the last 11 s); users with no request in the window are left out or 0.0."""
        from concurrent.futures import ThreadPoolExecutor

        # the broker's state always exists: JmxTool fails when nothing matches (no user yet)
        names = ["kafka.server:type=KafkaServer,name=BrokerState",
                 *[f"kafka.server:type={t},user=*" for t in ("Produce", "Fetch", "Request")]]

        def one(node_id: int) -> dict[str, float]:
            return jmx_query(self.jvm, self.spec.jmx_port(node_id), self.passwords[MONITOR],
                             names, ["throttle-time", "Value"], folder=self.settings.home)

        worst: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=3) as pool:
            for values in pool.map(one, self.alive_nodes()):
                for name, ms in values.items():
                    user = _user_of(name)
                    if user:
                        worst[user] = max(worst.get(user, 0.0), ms)
        return worst

    def _format(self, jvm: Jvm, properties: Path, cluster_id: str) -> None:
        password = self.passwords[INSTRUCTOR]
        jvm.format_storage(properties, cluster_id,
                           ["--add-scram", f"{SCRAM}=[name={INSTRUCTOR},password={password}]"])
