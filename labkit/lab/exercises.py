"""Exercises and their solutions: one convention in every notebook.

An exercise is a markdown cell saying what to do, a code cell for the learner, a **collapsed
solution cell** that starts with ``%%solution``, and a check cell (``labkit.check``) that answers
✓ or a hint about what differs on the broker.

``%%solution`` runs its cell only when solutions are on (``LABKIT_SOLUTIONS=1``: instructors
demoing, and CI); otherwise it only says where the solution is, so the learner's own attempt is
what gets checked. With solutions on, a failing check raises, so nbval catches a lesson whose
solution stopped being true.
"""

from __future__ import annotations

from typing import Any

from labkit.settings import Settings


def solutions_enabled() -> bool:
    """Whether solution cells run (``LABKIT_SOLUTIONS=1``, read through :class:`Settings`,
    so a bad value is a one-line SettingsError)."""
    return Settings.from_env().solutions


def strict_checks() -> bool:
    """Checks raise instead of hinting: in a notebook kernel with solutions on (CI, nbval)."""
    if not solutions_enabled():
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def solution(line: str, cell: str) -> None:
    """The ``%%solution`` cell magic."""
    from labkit.lab.requires import run_body

    if not solutions_enabled():
        print("The solution is in this cell (expand it to read it). It runs only with "
              "LABKIT_SOLUTIONS=1; your own code above is what the check below looks at.")
        return
    run_body(cell)


def register(ip: Any | None = None) -> None:
    """Register ``%%solution`` and ``%%requires`` in the running IPython (done by
    ``import labkit``)."""
    if ip is None:
        from IPython import get_ipython

        ip = get_ipython()
    if ip is not None:
        from labkit.lab import requires

        ip.register_magic_function(solution, magic_kind="cell", magic_name="solution")
        requires.register(ip)


def load_ipython_extension(ip: Any) -> None:
    register(ip)
