"""A class student's names: the sNN. prefix once, and never on the class's common names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from labkit.exceptions import UsageError
from labkit.kafka.names import prefix, qualify


def _conn(student: str | None) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(student=student))


def test_a_student_gets_the_prefix_once() -> None:
    s01 = _conn("s01")
    assert prefix(s01) == "s01."
    assert qualify(s01, "lesson00.orders") == "s01.lesson00.orders"
    assert qualify(s01, qualify(s01, "lesson00.orders")) == "s01.lesson00.orders"
    assert qualify(s01, "") == "s01."  # reset("") means: everything of mine


def test_common_names_and_other_connections_are_kept() -> None:
    s01 = _conn("s01")
    for name in ("shared.menu", "class.progress", "__consumer_offsets"):
        assert qualify(s01, name) == name
    for conn in (_conn(None), SimpleNamespace(), object()):
        assert qualify(conn, "lesson00.orders") == "lesson00.orders"


def test_a_students_client_config_and_checks_get_the_prefix(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a cluster: an external cluster as student s01 (the settings a
    LABKIT_CLIENT_CONFIG file gives), its config and a check's arguments."""
    from labkit.cluster.external import ExternalCluster
    from labkit.lab.own import qualify_arguments
    from labkit.lab.requires import missing
    from labkit.settings import Settings

    props = tmp_path / "s01.properties"  # what 'labkit class up' hands out, minus the TLS
    props.write_text("bootstrap.servers=127.0.0.1:1\nsecurity.protocol=SASL_PLAINTEXT\n"
                     "sasl.mechanism=SCRAM-SHA-512\nsasl.username=s01\nsasl.password=secret\n")
    student = ExternalCluster(Settings.from_env(home=tmp_path, client_config=props))
    assert student.settings.student == "s01"  # the keyword reads the file, as the variable
    conf = student.config(group_id="lesson00.r", transactional_id="lesson07.tx")
    assert conf["group.id"] == "s01.lesson00.r" and conf["transactional.id"] == "s01.lesson07.tx"
    assert "secret" not in repr(conf) and conf["sasl.password"] == "secret"
    assert student.config({"group.id": "s01.lesson00.r"})["group.id"] == "s01.lesson00.r"

    def check(group: str, topic: str, n: int, *, cluster: object = None) -> None: ...
    args, _ = qualify_arguments(check, ("lesson00.r", "lesson00.t", 3), {"cluster": student})
    assert args == ("s01.lesson00.r", "s01.lesson00.t", 3)
    assert "class cluster" in str(missing(["disk"], student))
    with pytest.raises(UsageError, match="one or more of"):
        missing(["gpu"], student)

    lab = ExternalCluster(Settings.from_env(home=tmp_path, bootstrap_servers="127.0.0.1:1"))
    assert lab.config(group_id="lesson00.r")["group.id"] == "lesson00.r"
    assert qualify_arguments(check, ("g", "t", 3), {"cluster": lab})[0] == ("g", "t", 3)
