"""A class on one cluster: students with their own credentials, prefixed ACLs and quotas.

``labkit class up`` (:func:`up`) starts the class cluster (:mod:`labkit.cluster.classroom`)
and makes students ``s01 … sNN``: each a SCRAM-SHA-512 user who may do anything with the
topics, consumer groups and transactional ids named ``sNN.…``, read ``shared.…``, write the
``class.progress`` topic, and nothing else. Default user quotas keep one student from
starving the others. Each student's librdkafka settings go to ``DIR/sNN.properties``
(owner-only), with ``instructor.properties`` and ``ca.pem``.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.cluster.classroom import (
    CLASS_BASE_PORT,
    INSTRUCTOR,
    SCRAM,
    ClassCluster,
    ClassSpec,
    check_address,
    class_home,
    read_spec,
)
from labkit.cluster.tls import write_private
from labkit.exceptions import ClusterNotRunningError, KafkaToolError, LabkitError, UsageError
from labkit.settings import Settings

__all__ = ["MAX_STUDENTS", "PROGRESS_TOPIC", "QUOTAS", "add_student", "class_cluster", "down",
           "progress", "reset_student", "status", "student_name", "throttle_text", "up"]

MAX_STUDENTS = 99
PROGRESS_TOPIC = "class.progress"
SHARED_PREFIX = "shared."
# Per student, per node (Kafka's quotas are per broker): 3 nodes give a student ~3 MB/s in
# and ~6 MB/s out -- plenty for every lesson's own load, yet 30 students cannot fill a
# classroom's network or the instructor's disks. request_percentage caps one student's
# share of a node's request threads; controller_mutation_rate its topic/partition churn.
QUOTAS = {"producer_byte_rate": 1_048_576, "consumer_byte_rate": 2_097_152,
          "request_percentage": 50, "controller_mutation_rate": 20}
_NAME = re.compile(r"s(\d{2})")


def student_name(text: str) -> str:
    m = _NAME.fullmatch(text)
    if not m or not 1 <= int(m.group(1)) <= MAX_STUDENTS:
        raise UsageError(f"{text!r} is not a student name; use s01 to s{MAX_STUDENTS}")
    return text


def class_cluster(settings: Settings | None = None) -> ClassCluster:
    """The running class cluster (its spec from ``labkit class up``)."""
    settings = settings or Settings.from_env()
    spec = read_spec(settings)
    if spec is None:
        raise ClusterNotRunningError("no class cluster was set up; start one with 'labkit "
                                     "class up --students N --host ADDRESS'")
    cluster = ClassCluster(settings, spec)
    if not cluster.alive_nodes():
        raise ClusterNotRunningError("the class cluster is not running; 'labkit class up' "
                                     "starts it again with the same students")
    return cluster


def _acls(name: str) -> list[Any]:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    user, allow = f"User:{name}", AclPermissionType.ALLOW
    prefixed, literal = ResourcePatternType.PREFIXED, ResourcePatternType.LITERAL
    own = [AclBinding(kind, f"{name}.", prefixed, user, "*", AclOperation.ALL, allow)
           for kind in (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID)]
    shared = [AclBinding(ResourceType.TOPIC, SHARED_PREFIX, prefixed, user, "*", op, allow)
              for op in (AclOperation.READ, AclOperation.DESCRIBE)]
    progress = [AclBinding(ResourceType.TOPIC, PROGRESS_TOPIC, literal, user, "*", op, allow)
                for op in (AclOperation.WRITE, AclOperation.DESCRIBE)]
    # the brokers' settings, read-only (lessons show them; Kafka hides the sensitive ones)
    settings = [AclBinding(ResourceType.BROKER, "kafka-cluster", literal, user, "*",
                           AclOperation.DESCRIBE_CONFIGS, allow)]
    return own + shared + progress + settings


def _wait(futures: dict[Any, Any], what: str) -> None:
    for key, fut in futures.items():
        try:
            fut.result(timeout=30)
        except Exception as exc:
            raise LabkitError(f"could not {what} ({key}): {exc}") from None


def _librdkafka_properties(cluster: ClassCluster, user: str, password: str, ca: Path) -> str:
    return "\n".join([
        f"# {user} on the class cluster (librdkafka keys; LABKIT_CLIENT_CONFIG=this file)",
        f"bootstrap.servers={cluster.bootstrap_servers}",
        "security.protocol=SASL_SSL",
        f"sasl.mechanism={SCRAM}",
        f"sasl.username={user}",
        f"sasl.password={password}",
        f"ssl.ca.location={ca}",
    ]) + "\n"


def add_student(cluster: ClassCluster, name: str) -> Path:
    """Make (or re-make, with a new password) student ``name``: SCRAM user, ACLs, and
    ``DIR/name.properties``. Returns that file."""
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    student_name(name)
    password = secrets.token_urlsafe(12)
    admin = cluster.admin()
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    _wait(admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion(name, info, password.encode())]), f"add user {name}")
    _wait(admin.create_acls(_acls(name)), f"grant {name} its ACLs")
    if int(name[1:]) > cluster.spec.students:  # a late-comer: the class grows
        cluster.spec = dataclasses.replace(cluster.spec, students=int(name[1:]))
        write_private(class_home(cluster.lab_settings) / "class.json", cluster.spec.to_json())
    folder = cluster.spec.folder
    path = folder / f"{name}.properties"
    write_private(path, _librdkafka_properties(cluster, name, password, folder / "ca.pem"))
    return path


def _quotas(cluster: ClassCluster) -> None:
    """Default user quotas, through Kafka's own tool (the Python admin API has none)."""
    values = ",".join(f"{k}={v}" for k, v in QUOTAS.items())
    cluster.kafka("kafka-configs", "--alter", "--entity-type", "users", "--entity-default",
                  "--add-config", values)


def _hand_out(cluster: ClassCluster) -> None:
    folder = cluster.spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cluster.ca, folder / "ca.pem")
    sec = cluster.security_config()
    write_private(folder / "instructor.properties", _librdkafka_properties(
        cluster, INSTRUCTOR, sec["sasl.password"], folder / "ca.pem"))


def up(students: int, address: str, folder: Path, *, port: int = CLASS_BASE_PORT,
       settings: Settings | None = None) -> ClassCluster:
    """Start the class cluster with ``students`` students for ``address``; on any failure
    nothing is left running or half-made."""
    if not 1 <= students <= MAX_STUDENTS:
        raise UsageError(f"--students {students} is out of range; use 1 to {MAX_STUDENTS}")
    if not 1024 <= port <= 45000:
        raise UsageError(f"--port {port} is out of range; use 1024 to 45000")
    check_address(address)
    settings = settings or Settings.from_env()
    old = read_spec(settings)
    if old is not None and ClassCluster(settings, old).alive_nodes():
        raise UsageError(f"a class cluster is already running for {old.address} "
                         f"({old.students} students); 'labkit class down' stops it first")
    spec = ClassSpec(address=address, students=students, base_port=port,
                     folder=folder.expanduser().resolve())
    home = class_home(settings)  # (the broker certificate is made afresh at each start)
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # passwords in node.properties and secrets.json
    write_private(home / "class.json", spec.to_json())
    cluster = ClassCluster(settings, spec)
    try:
        cluster.up()
        _quotas(cluster)
        _hand_out(cluster)
        for i in range(1, students + 1):
            add_student(cluster, f"s{i:02d}")
        from labkit.kafka.topics import ensure_topic

        ensure_topic(cluster, PROGRESS_TOPIC, partitions=3)
    except BaseException:
        cluster.down(purge=old is None)
        raise
    return cluster


def reset_student(cluster: ClassCluster, name: str) -> tuple[list[str], list[str]]:
    """Delete student ``name``'s topics and consumer groups (and so their offsets); the
    other students' are untouched."""
    return cluster.reset(f"{student_name(name)}.")


def down(settings: Settings | None = None, *, purge: bool = False) -> bool:
    """Stop the class cluster (``purge``: also its data, certificates and the class's
    spec; the handed-out files in DIR stay). Whether one was running."""
    settings = settings or Settings.from_env()
    spec = read_spec(settings)
    if spec is None:
        return False
    cluster = ClassCluster(settings, spec)
    running = bool(cluster.alive_nodes())
    cluster.down(purge=purge)
    if purge:
        shutil.rmtree(class_home(settings), ignore_errors=True)
    return running


def status(cluster: ClassCluster, *, grid: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per student: topics, bytes of log (all copies; not the preallocated index files),
    consumer groups, their lag, the longest time (ms) the quotas held back its responses over
    the last ~11 s (``throttle_ms``, from the nodes' metrics; None where the nodes serve no
    JMX: a class started by an older labkit) and the exercise checks passed (from
    ``class.progress``)."""
    from labkit.kafka.groups import committed, group_ids
    from labkit.kafka.offsets import watermarks
    from labkit.kafka.topics import lab_topics

    topics, groups = lab_topics(cluster), group_ids(cluster)
    try:
        throttled: dict[str, float] | None = cluster.throttle_times()
    except KafkaToolError:
        throttled = None
    if grid is None and PROGRESS_TOPIC in topics:
        grid = progress(cluster)
    rows = []
    for i in range(1, cluster.spec.students + 1):
        name = f"s{i:02d}"
        mine = [t for t in topics if t.startswith(f"{name}.")]
        size = sum(f.stat().st_size for n in (1, 2, 3) for t in mine
                   for d in cluster.data_dir(n).glob(f"{t}-*") if d.name[len(t) + 1:].isdigit()
                   for f in d.glob("*.log"))
        behind = 0
        for g in (g for g in groups if g.startswith(f"{name}.")):
            done = committed(cluster, g, mine) if mine else {}
            marks = watermarks(cluster, list(done), settle=0)
            behind += sum(max(0, (marks[tp].high_watermark or 0) - off)
                          for tp, off in done.items())
        rows.append({"student": name, "topics": len(mine), "bytes": size,
                     "groups": sum(g.startswith(f"{name}.") for g in groups), "lag": behind,
                     "throttle_ms": None if throttled is None else throttled.get(name, 0.0),
                     "passed": 0 if grid is None else sum(v == "✓" for v in grid.loc[name])})
    return rows


def throttle_text(ms: float | None) -> str:
    """A status row's ``throttle_ms`` as shown: ``2,549``, or ``?`` where it is unknown."""
    return "?" if ms is None else f"{ms:,.0f}"


def progress(cluster: ClassCluster) -> pd.DataFrame:
    """The class's progress, read from ``class.progress``: one row per student, one column
    per exercise check, the latest result ("✓" or "✗"; "" where never run)."""
    import json

    from labkit.kafka.ranges import BoundedReader

    latest: dict[tuple[str, str], bool] = {}
    with BoundedReader(cluster, PROGRESS_TOPIC) as reader:
        events = [json.loads(m.value()) for m in
                  reader.records(reader.ranges(reader.partitions()))]
    for e in sorted(events, key=lambda e: e.get("time", 0)):
        latest[(str(e["student"]), str(e["check"]))] = bool(e["passed"])
    students = [f"s{i:02d}" for i in range(1, cluster.spec.students + 1)]
    checks = sorted({c for _s, c in latest})
    grid = pd.DataFrame("", index=pd.Index(students, name="student"), columns=checks)
    for (student, check), passed in latest.items():
        grid.loc[student, check] = "✓" if passed else "✗"
    return grid
