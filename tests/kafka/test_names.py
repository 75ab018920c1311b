"""A class student's names: the sNN. prefix once, and never on the class's common names."""

from __future__ import annotations

from types import SimpleNamespace

from labkit.kafka.names import prefix, qualify, unqualify


def _conn(student: str | None) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(student=student))


def test_a_student_gets_the_prefix_once() -> None:
    s01 = _conn("s01")
    assert prefix(s01) == "s01."
    assert qualify(s01, "lesson00.orders") == "s01.lesson00.orders"
    assert qualify(s01, qualify(s01, "lesson00.orders")) == "s01.lesson00.orders"
    assert qualify(s01, "") == "s01."  # reset("") means: everything of mine
    assert unqualify(s01, "s01.lesson00.orders") == "lesson00.orders"


def test_common_names_and_other_connections_are_kept() -> None:
    s01 = _conn("s01")
    for name in ("shared.menu", "class.progress", "__consumer_offsets"):
        assert qualify(s01, name) == name
    for conn in (_conn(None), SimpleNamespace(), object()):
        assert qualify(conn, "lesson00.orders") == "lesson00.orders"
