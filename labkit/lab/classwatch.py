"""The instructor's live view of a class: the students × exercise checks grid, read from
``class.progress`` and redrawn in the notebook while students work (bounded: it stops after
``seconds``; run the cell again to go on watching).

>>> grid = classwatch.watch(seconds=600)      # ✓ passed, ✗ failed, blank: not run yet
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.classroom import class_cluster, progress, status, throttle_text
from labkit.validate import positive

if TYPE_CHECKING:
    import pandas as pd

    from labkit.cluster.classroom import ClassCluster

__all__ = ["STATUS_EVERY", "render", "watch"]

STATUS_EVERY = 30.0  # seconds between two reads of the topics, bytes and lag (the shared
#                      cluster's students should not pay for the instructor's view)


def render(grid: pd.DataFrame, rows: list[dict[str, Any]], when: float) -> str:
    """The grid as HTML: one row per student (with topics, lag, throttle time and checks
    passed), one column per check; a caption with the time it was read."""
    extra = {r["student"]: r for r in rows}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in grid.columns)
    body = []
    for student, marks in grid.iterrows():
        info = extra.get(str(student), {})
        cells = "".join(f"<td style='text-align:center'>{html.escape(str(v))}</td>"
                        for v in marks)
        body.append(f"<tr><th>{html.escape(str(student))}</th>"
                    f"<td>{info.get('passed', 0)}</td><td>{info.get('topics', 0)}</td>"
                    f"<td>{info.get('lag', 0):,}</td>"
                    f"<td>{throttle_text(info.get('throttle_ms'))}</td>{cells}</tr>")
    stamp = time.strftime("%H:%M:%S", time.localtime(when))
    return (f"<table><caption>class progress at {stamp} (✓ passed, ✗ failed, blank: not "
            f"run)</caption><tr><th>student</th><th>passed</th><th>topics</th><th>lag</th>"
            f"<th>throttle ms</th>{head}</tr>{''.join(body)}</table>")


def watch(cluster: ClassCluster | None = None, *, seconds: float = 600.0, every: float = 2.0,
          until: Callable[[pd.DataFrame], bool] | None = None) -> pd.DataFrame:
    """Show the class's progress and redraw it every ``every`` seconds for ``seconds``
    (or until ``until(grid)`` is true); return the last grid."""
    from IPython.display import HTML, display

    positive("seconds", seconds)
    positive("every", every)
    c = cluster if cluster is not None else class_cluster()
    deadline = time.monotonic() + seconds
    grid = progress(c)
    rows, rows_at = status(c, grid=grid), time.monotonic()  # heavier: every STATUS_EVERY s
    handle = display(HTML(render(grid, rows, time.time())), display_id=True)
    while time.monotonic() < deadline and not (until is not None and until(grid)):
        time.sleep(min(every, max(0.0, deadline - time.monotonic())))  # the redraw's pace
        grid = progress(c)
        if time.monotonic() - rows_at >= STATUS_EVERY:
            rows, rows_at = status(c, grid=grid), time.monotonic()
        if handle is not None:
            handle.update(HTML(render(grid, rows, time.time())))
    return grid
