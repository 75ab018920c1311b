"""Live charts: a plot that updates in place while events flow, then stays as ONE static PNG.

>>> chart = throughput("orders")            # events/s per topic, from high-watermark deltas
>>> df = chart.run(20)                       # blocks up to 20 s, returns the samples

How it works: each tick samples every series, draws a matplotlib ``Figure`` with the Agg
backend (no pyplot, nothing from threads) and updates one IPython display handle, at most
twice a second. The saved notebook keeps only the last picture (rendered at twice the pixels
of the live frames, for HiDPI screens), so it renders on GitHub and passes nbval. Outside a
Jupyter kernel nothing is displayed; ``run`` still samples.

Every series has a unit; a chart shows at most two (the second on a twin y-axis). Marks are
labelled vertical lines: ``chart.mark("consumer paused")``, and labkit's own actions (a node
stopped, a service paused, ...) mark every chart that is running (:mod:`labkit.moments`).
"""

from __future__ import annotations

import concurrent.futures
import io
import math
import numbers
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit import moments
from labkit.exceptions import ChartError, LabkitError
from labkit.lab.charts import drawing, style
from labkit.lab.charts.drawing import Frame, Mark
from labkit.validate import positive

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MIN_INTERVAL = 0.5
"""Seconds between samples and redraws at the least (at most 2 updates a second)."""


@dataclass
class _Series:
    name: str
    fn: Callable[[], Any]
    rate: bool
    unit: str | None
    index: int
    previous: dict[str, tuple[float, float]] = field(default_factory=dict)


def _sample_errors() -> tuple[type[BaseException], ...]:
    """Errors a sample may hit while the cluster is busy or a node is down: shown as gaps."""
    from confluent_kafka import KafkaException

    return (KafkaException, LabkitError, TimeoutError, concurrent.futures.TimeoutError, OSError)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy numbers too
        raise ChartError(
            f"{where} returned {type(value).__name__} {value!r:.40}; a sample function must "
            "return a number or a dict of numbers"
        )
    return float(value)


class LiveChart:
    """A line chart of sampled values that redraws in place.

    ``title`` says what is shown, ``note`` what to notice (a line under the title, e.g.
    "lag rises while analytics is down and falls after it returns"). ``ylabel`` labels the
    first y-axis (default: the unit of its series). ``interval`` is the seconds between
    samples (below 0.5 it is raised to 0.5); ``window`` shows only the last that many seconds
    (None: everything); ``size`` is (width, height) in inches at 100 px an inch (default: the
    lab style's, larger with ``LABKIT_PRESENTER=1``).
    """

    def __init__(self, *, title: str = "", ylabel: str = "", note: str = "",
                 interval: float = MIN_INTERVAL, window: float | None = None,
                 size: tuple[float, float] | None = None) -> None:
        if not interval > 0:
            raise ChartError(f"interval={interval!r}: give the seconds between samples (>0)")
        if window is not None and not window > 0:
            raise ChartError(f"window={window!r}: give the seconds to show (>0), or None")
        self.title = title
        self.note = note
        self._ylabel = ylabel
        self.interval = max(float(interval), MIN_INTERVAL)
        self.window = window
        self.size = size
        self.errors: list[tuple[float, str, str]] = []
        """(elapsed seconds, series, message) of every sample that failed (drawn as a gap)."""
        self.task_result: Any = None
        self._series: list[_Series] = []
        self._columns: dict[str, tuple[_Series, str]] = {}  # column -> (series, colour key)
        self._rows: list[dict[str, Any]] = []
        self._marks: list[Mark] = []
        self._lock = threading.Lock()  # marks arrive from any thread
        self._started: float | None = None  # monotonic start of the run under way

    # -- series and units ---------------------------------------------------------------------
    def add_series(self, name: str, sample_fn: Callable[[], Any], *, rate: bool = False,
                   unit: str | None = None) -> LiveChart:
        """Plot what ``sample_fn()`` returns: a number (one line called ``name``) or a dict of
        numbers (one line per key, called ``"<name> <key>"``, or just the key if ``name`` is
        ""). With ``rate=True`` the values are counters and the chart shows their change per
        second. ``unit`` is what the values count ("events", "offset"; with ``rate=True``
        the chart shows "<unit>/s"); None: the first axis's. A chart has at most two units,
        one per y-axis. Returns the chart, so calls chain."""
        if not callable(sample_fn):
            raise ChartError(f"series {name!r}: sample_fn must be a function taking no arguments")
        if any(s.name == name for s in self._series):
            raise ChartError(f"the chart already has a series {name!r}; pick another name")
        if unit is not None and (not isinstance(unit, str) or not unit.strip()):
            raise ChartError(f"series {name!r}: unit={unit!r}; give a word such as 'events', "
                             "or leave it out")
        shown = None if unit is None else (f"{unit}/s" if rate else unit)
        units = self._declared()
        if shown is not None and shown not in units and len(units) >= 2:
            raise ChartError(f"series {name!r} is in {shown!r} but the chart already shows "
                             f"{units[0]!r} and {units[1]!r} (one unit per y-axis, two at most)"
                             "; draw it on a chart of its own")
        self._series.append(_Series(name, sample_fn, rate, shown, len(self._series)))
        return self

    def _declared(self) -> list[str]:
        return list(dict.fromkeys(s.unit for s in self._series if s.unit is not None))

    @property
    def units(self) -> list[str]:
        """The unit of each y-axis (one or two), in order."""
        declared = self._declared()
        if self._ylabel in declared:  # the axis the chart's ylabel names comes first
            declared.remove(self._ylabel)
            declared.insert(0, self._ylabel)
        return declared or [self._ylabel]

    @property
    def ylabel(self) -> str:
        """The label of the first y-axis: as set, else its unit."""
        return self._ylabel or self.units[0]

    @ylabel.setter
    def ylabel(self, value: str) -> None:
        self._ylabel = value

    # -- marks --------------------------------------------------------------------------------
    def mark(self, label: str, *, at: float | None = None) -> None:
        """A labelled vertical line: at the current moment of the run under way, or ``at``
        seconds after the start of the run (a mark given ``at=`` before ``run()`` stays for
        the runs that follow; marks made during a run go with it)."""
        if not isinstance(label, str) or not label.strip():
            raise ChartError(f"mark({label!r}): give a short text saying what happened")
        started = self._started
        if at is None:
            if started is None:
                raise ChartError(f"mark({label!r}) outside run(): give at=<seconds after the "
                                 "start> (or mark while the chart runs)")
            at = time.monotonic() - started
        elif isinstance(at, bool) or not isinstance(at, numbers.Real) or not at >= 0:
            raise ChartError(f"mark({label!r}, at={at!r}): give the seconds after the start "
                             "(a number >= 0)")
        with self._lock:
            self._marks.append(Mark(round(float(at), 3), label.strip(), started is None))

    @property
    def marks(self) -> list[tuple[float, str]]:
        """(seconds after the start, label) of every mark, in time order."""
        with self._lock:
            return [(m.at, m.label) for m in sorted(self._marks, key=lambda m: m.at)]

    def _announced(self, label: str, when: float) -> None:
        """A :mod:`labkit.moments` listener: labkit did something while the chart runs."""
        started = self._started
        if started is not None:
            with self._lock:
                self._marks.append(Mark(round(max(0.0, when - started), 3), label))

    # -- sampling -----------------------------------------------------------------------------
    def _column(self, series: _Series, key: Any) -> str:
        if key is None:
            return series.name
        return str(key) if series.name == "" else f"{series.name} {key}"

    def _values(self, s: _Series, raw: Any) -> dict[str, Any]:
        """Column -> value of one sample of ``s`` (numbers; strip charts take categories)."""
        where = f"series {s.name!r}"
        if isinstance(raw, Mapping):
            out = {}
            for k, v in raw.items():
                col = self._column(s, k)
                self._columns.setdefault(col, (s, str(k)))
                out[col] = _number(v, f"{where}[{k!r}]")
            return out
        self._columns.setdefault(s.name, (s, s.name))
        return {s.name: _number(raw, where)}

    def _sample(self, elapsed: float, wall: float) -> None:
        import pandas as pd

        elapsed = round(elapsed, 3)  # the same number in the DataFrame and the rates
        row: dict[str, Any] = {"elapsed": elapsed,
                               "time": pd.Timestamp(wall, unit="s", tz="UTC")}
        for s in self._series:
            try:
                raw = s.fn()
            except _sample_errors() as exc:
                self.errors.append((elapsed, s.name, f"{type(exc).__name__}: {exc}"))
                continue
            for col, v in self._values(s, raw).items():
                if s.rate:
                    prev = s.previous.get(col)
                    s.previous[col] = (elapsed, v)
                    dt = elapsed - prev[0] if prev else 0.0
                    v = (v - prev[1]) / dt if prev and dt > 0 else math.nan
                row[col] = v
        self._rows.append(row)

    @property
    def samples(self) -> pd.DataFrame:
        """Every sample so far: ``elapsed`` (s), ``time`` (UTC) and one column per line."""
        import pandas as pd

        return pd.DataFrame(self._rows, columns=None if self._rows else ["elapsed", "time"])

    # -- drawing ------------------------------------------------------------------------------
    def _size(self, st: style.Style) -> tuple[float, float]:
        return self.size or st.size

    def _frame(self, st: style.Style) -> Frame:
        return Frame(style=st, size=self._size(st),
                     title=self.title or ", ".join(s.name for s in self._series if s.name),
                     note=self.note, marks=[Mark(at, label) for at, label in self.marks],
                     window=self.window, errors=list(self.errors))

    def _draw(self, fig: Figure, frame: Frame, df: pd.DataFrame) -> None:
        units = self.units
        frame.axis_labels = [self.ylabel, *units[1:]]
        for col in (c for c in df.columns if c not in ("elapsed", "time")):
            s, key = self._columns.get(col, (None, col))
            axis = units.index(s.unit) if s is not None and s.unit in units else 0
            frame.lines.append(drawing.Line(col, col, style.colour(key), drawing.LINE_STYLES[
                (s.index if s is not None else 0) % len(drawing.LINE_STYLES)], axis))
        drawing.draw_lines(fig, frame, df)

    def figure(self, *, live: bool = False) -> Figure:
        """The chart as a matplotlib Figure (Agg; safe to keep, save or show); ``live``: a
        frame about to be replaced, drawn cheaply."""
        from matplotlib.figure import Figure

        frame = self._frame(style.current())
        frame.live = live
        fig = Figure(figsize=frame.size, dpi=style.DISPLAY_DPI)
        self._draw(fig, frame, self.samples)
        return fig

    def png(self, scale: float = style.HIDPI) -> bytes:
        """The chart as PNG bytes, ``scale`` pixels per displayed pixel (live frames: 1, and
        compressed fast: they are replaced half a second later)."""
        buf = io.BytesIO()
        live = scale < style.HIDPI
        self.figure(live=live).savefig(buf, format="png", dpi=style.DISPLAY_DPI * scale,
                                       pil_kwargs={"compress_level": 1} if live else None)
        return buf.getvalue()

    # -- running ------------------------------------------------------------------------------
    def run(self, seconds: float, *, until: Callable[[], bool] | None = None,
            task: Callable[[], Any] | None = None, scaled: bool = False,
            display: bool | None = None) -> pd.DataFrame:
        """Sample and redraw every ``interval`` for ``seconds`` (blocking), then return the
        samples as a DataFrame. ``seconds`` are real seconds, as everywhere in labkit (e.g.
        ``produce(seconds=…)``); a demo that CI may shorten passes ``labkit.scaled(x)``, or
        ``scaled=True`` to multiply by ``LABKIT_TIME_SCALE`` here. Stops early once
        ``until()`` is true, or once ``task`` (run in a background thread, its return value
        kept in ``task_result``) has finished; a task
        still running at the end raises ChartError. Each run starts a fresh chart (marks
        given with ``at=`` before it stay). While it runs, labkit's own actions mark it.
        ``display``: show the chart (default: only inside a Jupyter kernel)."""
        if not self._series:
            raise ChartError("the chart has no series; add one with add_series(name, fn)")
        positive("seconds", seconds)
        if scaled:
            from labkit.settings import Settings

            seconds = Settings.from_env().scaled(seconds)
        show = _in_kernel() if display is None else display
        self._rows, self.errors, self.task_result = [], [], None
        with self._lock:
            self._marks = [m for m in self._marks if m.planned]
        for s in self._series:
            s.previous.clear()
        import matplotlib.figure  # noqa: F401 - import before the clock starts
        import pandas  # noqa: F401

        self._started = start = time.monotonic()
        moments.subscribe(self._announced)
        try:
            worker, outcome = self._start_task(task)
            self._loop(start, start + seconds, worker, until, show)
        finally:
            moments.unsubscribe(self._announced)
            self._started = None
        return self._finish(worker, outcome, seconds)

    def _loop(self, start: float, deadline: float, worker: threading.Thread | None,
              until: Callable[[], bool] | None, show: bool) -> None:
        """Sample on a fixed grid (not poll_until) until the deadline, ``until`` or the task;
        the last frame is drawn at HiDPI."""
        handle = None
        tick = 0
        while True:
            task_done = worker is not None and not worker.is_alive()
            sampled_at = time.monotonic()
            self._sample(sampled_at - start, time.time())
            tick += 1  # on the grid of interval, never closer than interval to the last
            next_at = max(start + tick * self.interval, sampled_at + self.interval)
            last = task_done or (until is not None and until()) or next_at > deadline + 1e-3
            handle = self._show(handle, style.HIDPI if last else 1.0) if show else None
            if last:
                return
            time.sleep(max(0.0, next_at - time.monotonic()))  # pacing, not a readiness wait

    def _start_task(self, task: Callable[[], Any] | None
                    ) -> tuple[threading.Thread | None, dict[str, Any]]:
        outcome: dict[str, Any] = {}
        if task is None:
            return None, outcome

        def work() -> None:
            try:
                outcome["result"] = task()
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="labkit-chart-task", daemon=True)
        worker.start()
        return worker, outcome

    def _finish(self, worker: threading.Thread | None, outcome: dict[str, Any],
                seconds: float) -> pd.DataFrame:
        if worker is not None:
            if worker.is_alive():
                raise ChartError(
                    f"the task was still running after {seconds:.1f} s; give run() more "
                    "seconds or make the task finish sooner"
                )
            if "error" in outcome:
                raise outcome["error"]
            self.task_result = outcome.get("result")
        return self.samples

    def _show(self, handle: Any, scale: float) -> Any:
        from IPython.display import Image
        from IPython.display import display as ipy_display

        st = style.current()
        width, _height = st.pixels(self._size(st))
        image = Image(self.png(scale), width=width)
        if handle is None:
            return ipy_display(image, display_id=True)
        handle.update(image)
        return handle
