"""A class-cluster student's own names: ``lesson00.orders`` becomes ``s01.lesson00.orders``.

On a class cluster (``LABKIT_CLIENT_CONFIG=s01.properties``) each student may create and use
only topics, groups and transactional ids that start with their name and a dot (prefixed ACLs).
labkit puts that prefix on every name a lesson gives it, once: a name that already has it, a
``shared.`` or ``class.`` name of the class, and Kafka's internal ``__`` topics are kept.
Everywhere else (the lab's own cluster) names are kept as they are.
"""

from __future__ import annotations

from typing import Any

KEPT = ("shared.", "class.", "__")  # the class's common names and Kafka's internal topics


def prefix(conn: Any) -> str:
    """``"s01."`` when ``conn`` is a class-cluster student's connection, else ``""``."""
    student = getattr(getattr(conn, "settings", None), "student", None)
    return f"{student}." if isinstance(student, str) and student else ""


def qualify(conn: Any, name: str) -> str:
    """``name`` as this connection must use it (see the module's docstring)."""
    own = prefix(conn)
    if not own or not isinstance(name, str) or name.startswith((own, *KEPT)):
        return name
    return own + name


__all__ = ["KEPT", "prefix", "qualify"]
