"""Drawing a chart's frame with matplotlib (Agg ``Figure``, no pyplot): the title and its note,
one unit per y-axis (a twin axis for a second unit), marks as labelled vertical lines, the
legend below the plot (never over the data or the marks' labels), failed samples.

The layout is computed here in inches, not by matplotlib's automatic layout (which doubles the
drawing time of each frame).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.lab.charts.style import MARK_COLOUR, Style

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LINE_STYLES = ("-", "--", ":", "-.")
"""Line style of a chart's 1st, 2nd, ... series (lines of one series share it)."""


@dataclass(frozen=True)
class Mark:
    """A labelled moment on the time axis: ``at`` seconds after the run started."""

    at: float
    label: str
    planned: bool = False
    """Added outside a run (with ``at=``): kept for the next run."""


@dataclass(frozen=True)
class Line:
    column: str
    label: str
    colour: str
    style: str
    axis: int


@dataclass
class Frame:
    """Everything one picture shows."""

    style: Style
    size: tuple[float, float]
    title: str
    note: str = ""
    axis_labels: Sequence[str] = ("",)
    marks: Sequence[Mark] = ()
    window: float | None = None
    errors: Sequence[tuple[float, str, str]] = ()
    lines: list[Line] = field(default_factory=list)
    live: bool = False
    """A frame replaced half a second later: drawn cheaply (mark labels without a box)."""


# -- layout -----------------------------------------------------------------------------------
def legend_columns(labels: Sequence[str], style: Style, width: float) -> int:
    """How many legend entries fit side by side in ``width`` inches."""
    if not labels:
        return 1
    longest = max(len(s) for s in labels)
    entry = (longest * 0.55 + 4.0) * style.small / 72
    return max(1, min(len(labels), int(width // entry)))


def layout(fig: Figure, frame: Frame, *, legend_rows: int, twin: bool,
           left: float | None = None) -> float:
    """Set the axes' margins for ``frame``; returns the figure fraction where the legend's
    top goes."""
    st, (w, h) = frame.style, frame.size
    line = st.font / 72  # one line of text, in inches
    top = 0.18 + st.title * 1.35 / 72 + (line * 1.45 if frame.note else 0.0)
    legend = legend_rows * line * 1.55
    errors = line * 1.3 if frame.errors else 0.0
    bottom = 0.12 + line * 2.9 + legend + errors
    left = line * 5.5 if left is None else left
    right = line * 5.5 if twin else 0.3
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h,
                        bottom=min(bottom / h, 0.6))
    return (errors + legend + 0.08) / h


def decorate(fig: Figure, ax: Axes, frame: Frame, handles: list[Any], labels: list[str],
             legend_top: float) -> None:
    """Title, note, legend and the failed-samples line."""
    st = frame.style
    # y given: matplotlib then skips placing the title around the axes' decorations, which
    # cost a quarter of a frame (the margins are laid out above anyway)
    ax.set_title(frame.title, fontsize=st.title, y=1.0,
                 pad=st.font * (2.0 if frame.note else 0.6))
    if frame.note:
        ax.text(0.5, 1.0 + st.font * 0.6 / 72 / ax.get_position().height / frame.size[1],
                frame.note, transform=ax.transAxes, fontsize=st.font, style="italic",
                color="#444444", va="bottom", ha="center", gid="labkit-note")
    if handles:
        cols = legend_columns(labels, st, frame.size[0] * 0.95)
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, legend_top),
                   ncols=cols, fontsize=st.small, frameon=False, handlelength=2.4)
    if frame.errors:
        t, name, msg = frame.errors[-1]
        fig.text(0.01, 0.01, f"{len(frame.errors)} failed sample(s), last at {t:.1f}s "
                 f"({name}): {msg}"[:140], fontsize=st.small, color="firebrick")


# -- marks ------------------------------------------------------------------------------------
def _groups(marks: Sequence[Mark], lo: float, hi: float, width_in: float,
            font: float) -> list[tuple[float, str]]:
    """Marks inside [lo, hi], those closer than a line of text merged into one label."""
    gap = font * 1.5 / 72 / width_in * (hi - lo)  # data units one label is wide
    out: list[tuple[float, list[str]]] = []
    for m in sorted(marks, key=lambda m: m.at):
        if not lo <= m.at <= hi:
            continue
        if out and m.at - out[-1][0] < gap:
            out[-1][1].append(m.label)
        else:
            out.append((m.at, [m.label]))
    return [(at, " · ".join(labels)) for at, labels in out]


def draw_marks(ax: Axes, frame: Frame) -> None:
    """A vertical line per mark, its label written along it at the top of the plot."""
    if not frame.marks:
        return
    from matplotlib.transforms import blended_transform_factory

    lo, hi = ax.get_xlim()
    width = ax.get_position().width * frame.size[0]
    across = blended_transform_factory(ax.transData, ax.transAxes)
    st = frame.style
    for at, label in _groups(frame.marks, lo, hi, width, st.small):
        ax.axvline(at, color=MARK_COLOUR, linewidth=1.1, linestyle=(0, (4, 2)), zorder=3,
                   gid="labkit-mark")
        text = label if len(label) <= 60 else label[:59] + "…"
        ax.text(at, 0.98, text, transform=across, rotation=90, ha="right", va="top",
                fontsize=st.small, color=MARK_COLOUR, zorder=4, gid="labkit-mark-label",
                clip_on=False, bbox=None if frame.live else {
                    "boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                    "alpha": 0.8})


# -- line charts ------------------------------------------------------------------------------
def time_axis(ax: Axes, end: float, frame: Frame) -> None:
    if frame.window is not None:
        ax.set_xlim(max(0.0, end - frame.window), max(end, frame.window))
    ax.set_xlabel("seconds", fontsize=frame.style.font)
    ax.tick_params(labelsize=frame.style.small)


def draw_lines(fig: Figure, frame: Frame, df: pd.DataFrame) -> None:
    """The line chart: one y-axis per unit (at most two), marks, title, legend."""
    st = frame.style
    ax = fig.add_subplot()
    axes = [ax, ax.twinx()] if len(frame.axis_labels) > 1 else [ax]
    twin = len(axes) > 1
    cols = [line.label + (f" ({frame.axis_labels[line.axis]})" if twin else "")
            for line in frame.lines]
    legend_top = layout(fig, frame, twin=twin, legend_rows=math.ceil(
        len(cols) / legend_columns(cols, st, frame.size[0] * 0.95)) if cols else 0)
    handles = []
    for line in frame.lines:
        (h,) = axes[line.axis].plot(df["elapsed"], df[line.column], color=line.colour,
                                    linestyle=line.style, linewidth=1.8,
                                    marker="." if len(df) < 40 else None, label=line.label)
        handles.append(h)
    for a, label in zip(axes, frame.axis_labels, strict=True):
        a.set_ylabel(label, fontsize=st.font)
        a.tick_params(labelsize=st.small)
    end = float(df["elapsed"].iloc[-1]) if len(df) else 0.0
    time_axis(ax, end, frame)
    ax.grid(alpha=0.3)
    if not len(df):
        ax.text(0.5, 0.5, "waiting for the first sample", ha="center", transform=ax.transAxes,
                fontsize=st.font)
    draw_marks(ax, frame)
    decorate(fig, ax, frame, handles, cols, legend_top)
