"""``%%requires nodes`` / ``disk`` / ``speed``: a cell that needs what only the lab's own cluster
gives (killing a node, reading segment files on the brokers' disks, producing at full speed
without a class's quotas) runs there and is skipped,
with one line saying why, on a cluster that cannot (a class cluster shared by students).

The cells after it that use its results carry the same line, so a lesson runs to its end."""

from __future__ import annotations

from typing import Any

from labkit.cluster import resolve
from labkit.exceptions import CellFailed, UsageError

NEEDS = {
    "nodes": ("stops, kills or starts Kafka nodes",
              lambda c: c.controls_nodes),
    "disk": ("reads segment files on the brokers' disks",
             lambda c: c.data_dir(1) is not None),  # node ids start at 1
    "speed": ("measures Kafka at full speed, which a class cluster's per-student quotas "
              "would cap",
              lambda c: c.student is None),
}


def missing(needs: list[str], cluster: Any | None = None) -> str | None:
    """Why the running cluster cannot run a cell that needs ``needs``, or None if it can."""
    unknown = [n for n in needs if n not in NEEDS]
    if unknown or not needs:
        raise UsageError(f"%%requires {' '.join(needs) or '(nothing)'}: say what the cell "
                         f"needs, one or more of {', '.join(NEEDS)}")
    c = resolve(cluster)
    for need in needs:
        what, can = NEEDS[need]
        if not can(c):
            where = ("a class cluster, shared with others," if c.student is not None else
                     f"the {c.backend} cluster you are on")
            return (f"Skipped: this cell {what}; {where} does not allow that. Run the lesson "
                    "on the lab's own local cluster ('labkit up') to see it.")
    return None


def requires(line: str, cell: str) -> None:
    """The ``%%requires`` cell magic."""
    why = missing(line.split())
    if why is not None:
        print(why)
        return
    run_body(cell)


def run_body(cell: str) -> None:
    """Run a cell magic's body as a cell of its own (its output and its traceback shown as
    usual); if it raised, fail the magic's cell too, in one line (CellFailed)."""
    from IPython import get_ipython

    result = get_ipython().run_cell(cell)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise CellFailed(f"{type(error).__name__}: {error} (the traceback is above)") from None


def register(ip: Any) -> None:
    ip.register_magic_function(requires, magic_kind="cell", magic_name="requires")


__all__ = ["NEEDS", "missing", "register", "requires", "run_body"]
