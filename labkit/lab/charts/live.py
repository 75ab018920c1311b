"""Live charts: a plot that updates in place while events flow, then stays as ONE static PNG.

>>> chart = throughput("orders")            # events/s per topic, from high-watermark deltas
>>> df = chart.run(20)                       # blocks up to 20 s, returns the samples

How it works: each tick samples every series, draws a matplotlib ``Figure`` with the Agg
backend (no pyplot, nothing from threads) and updates one IPython display handle, at most
twice a second. The saved notebook keeps only the last picture, so it renders on GitHub and
passes nbval. Outside a Jupyter kernel nothing is displayed; ``run`` still samples.
"""

from __future__ import annotations

import concurrent.futures
import io
import math
import numbers
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.exceptions import ChartError, LabkitError
from labkit.kafka.groups import progress
from labkit.kafka.offsets import offsets
from labkit.kafka.topics import describe, partition_ids
from labkit.validate import positive

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from labkit.cluster import Cluster

MIN_INTERVAL = 0.5
"""Seconds between samples and redraws at the least (at most 2 updates a second)."""


@dataclass
class _Series:
    name: str
    fn: Callable[[], Any]
    rate: bool
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

    ``interval`` is the seconds between samples (below 0.5 it is raised to 0.5); ``window``
    shows only the last that many seconds (None: everything).
    """

    def __init__(self, *, title: str = "", ylabel: str = "", interval: float = MIN_INTERVAL,
                 window: float | None = None, size: tuple[float, float] = (7.0, 3.2)) -> None:
        if not interval > 0:
            raise ChartError(f"interval={interval!r}: give the seconds between samples (>0)")
        if window is not None and not window > 0:
            raise ChartError(f"window={window!r}: give the seconds to show (>0), or None")
        self.title = title
        self.ylabel = ylabel
        self.interval = max(float(interval), MIN_INTERVAL)
        self.window = window
        self.size = size
        self.errors: list[tuple[float, str, str]] = []
        """(elapsed seconds, series, message) of every sample that failed (drawn as a gap)."""
        self.task_result: Any = None
        self._series: list[_Series] = []
        self._rows: list[dict[str, Any]] = []

    def add_series(self, name: str, sample_fn: Callable[[], Any], *,
                   rate: bool = False) -> LiveChart:
        """Plot what ``sample_fn()`` returns: a number (one line called ``name``) or a dict of
        numbers (one line per key, called ``"<name> <key>"``, or just the key if ``name`` is
        ""). With ``rate=True`` the values are counters and the chart shows their change per
        second. Returns the chart, so calls chain."""
        if not callable(sample_fn):
            raise ChartError(f"series {name!r}: sample_fn must be a function taking no arguments")
        if any(s.name == name for s in self._series):
            raise ChartError(f"the chart already has a series {name!r}; pick another name")
        self._series.append(_Series(name, sample_fn, rate))
        return self

    # -- sampling -----------------------------------------------------------------------------
    def _column(self, series: _Series, key: Any) -> str:
        if key is None:
            return series.name
        return str(key) if series.name == "" else f"{series.name} {key}"

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
            where = f"series {s.name!r}"
            if isinstance(raw, Mapping):
                values = {self._column(s, k): _number(v, f"{where}[{k!r}]") for k, v in raw.items()}
            else:
                values = {self._column(s, None): _number(raw, where)}
            for col, v in values.items():
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
    def figure(self) -> Figure:
        """The chart as a matplotlib Figure (Agg; safe to keep, save or show)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.size, dpi=90)
        # fixed margins: an automatic layout doubles the drawing time of each frame
        fig.subplots_adjust(left=0.11, right=0.98, top=0.9, bottom=0.16)
        ax = fig.add_subplot()
        df = self.samples
        lines = [c for c in df.columns if c not in ("elapsed", "time")]
        for col in lines:
            ax.plot(df["elapsed"], df[col], marker="." if len(df) < 40 else None, label=col)
        end = float(df["elapsed"].iloc[-1]) if len(df) else 0.0
        if self.window is not None:
            ax.set_xlim(max(0.0, end - self.window), max(end, self.window))
        ax.set_xlabel("seconds")
        ax.set_ylabel(self.ylabel)
        ax.set_title(self.title or ", ".join(s.name for s in self._series))
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(loc="upper left", fontsize="small", ncols=1 + len(lines) // 8)
        if not len(df):
            ax.text(0.5, 0.5, "waiting for the first sample", ha="center", transform=ax.transAxes)
        if self.errors:
            t, name, msg = self.errors[-1]
            fig.text(0.01, 0.005, f"{len(self.errors)} failed sample(s), last at {t:.1f}s "
                     f"({name}): {msg}"[:110], fontsize="x-small", color="firebrick")
        return fig

    def png(self) -> bytes:
        """The chart as PNG bytes."""
        buf = io.BytesIO()
        self.figure().savefig(buf, format="png")
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
        still running at the end raises ChartError. Each run starts a fresh chart.
        ``display``: show the chart (default: only inside a Jupyter kernel)."""
        if not self._series:
            raise ChartError("the chart has no series; add one with add_series(name, fn)")
        positive("seconds", seconds)
        if scaled:
            from labkit.settings import Settings

            seconds = Settings.from_env().scaled(seconds)
        show = _in_kernel() if display is None else display
        self._rows, self.errors, self.task_result = [], [], None
        for s in self._series:
            s.previous.clear()
        import matplotlib.figure  # noqa: F401 - import before the clock starts
        import pandas  # noqa: F401

        worker, outcome = self._start_task(task)
        handle = None
        start = time.monotonic()
        deadline = start + seconds  # not poll_until: it samples and draws on a fixed grid
        tick = 0
        while True:
            task_done = worker is not None and not worker.is_alive()
            sampled_at = time.monotonic()
            self._sample(sampled_at - start, time.time())
            handle = self._show(handle) if show else None
            if task_done or (until is not None and until()):
                break
            tick += 1  # on the grid of interval, never closer than interval to the last
            next_at = max(start + tick * self.interval, sampled_at + self.interval)
            if next_at > deadline + 1e-3:
                break
            time.sleep(max(0.0, next_at - time.monotonic()))  # pacing, not a readiness wait
        return self._finish(worker, outcome, seconds)

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

    def _show(self, handle: Any) -> Any:
        from IPython.display import Image
        from IPython.display import display as ipy_display

        image = Image(self.png())
        if handle is None:
            return ipy_display(image, display_id=True)
        handle.update(image)
        return handle


# -- where the numbers come from: the query layer (labkit.kafka); charts only draw ------------
def _nan(value: int | None) -> float:
    return math.nan if value is None else float(value)


def _topics(topics: str | Iterable[str]) -> list[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise ChartError("no topics given; pass a topic name or a list of them")
    return names


# -- ready-made charts -------------------------------------------------------------------------
def throughput(topics: str | Iterable[str], *, cluster: Cluster | None = None,
               interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """Events per second written to each topic (change of the summed high watermarks)."""
    c, names = resolve(cluster), _topics(topics)
    for t in names:
        partition_ids(c, t)

    def ends() -> dict[str, float]:  # NaN (a gap) while a partition has no leader
        return {t: sum(_nan(o) for o in offsets(c, t).values()) for t in names}

    chart = LiveChart(title="throughput", ylabel="events/s", interval=interval, window=window)
    return chart.add_series("", ends, rate=True)


def log_end_offsets(topic: str, *, cluster: Cluster | None = None,
                    interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """The high watermark of every partition of ``topic`` (the offset the next record
    gets, once replicated)."""
    c = resolve(cluster)
    partition_ids(c, topic)
    chart = LiveChart(title=f"high watermarks of {topic!r}", ylabel="offset",
                      interval=interval, window=window)
    return chart.add_series("", lambda: {f"p{p}": _nan(o) for p, o in offsets(c, topic).items()})


def lag_chart(group: str, topic: str, *, cluster: Cluster | None = None,
              interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """Consumer lag of ``group`` per partition of ``topic``: high watermark minus committed
    offset (minus the log-start offset where the group has committed nothing yet)."""
    c = resolve(cluster)
    partition_ids(c, topic)

    def lag() -> dict[str, float]:
        return {f"p{p}": _nan(pr.lag) for p, pr in progress(c, group, topic).items()}

    chart = LiveChart(title=f"lag of group {group!r} on {topic!r}", ylabel="events behind",
                      interval=interval, window=window)
    return chart.add_series("", lag)


def isr_sizes(topic: str, *, cluster: Cluster | None = None,
              interval: float = MIN_INTERVAL, window: float | None = None) -> LiveChart:
    """How many replicas of each partition of ``topic`` are in sync."""
    c = resolve(cluster)
    partition_ids(c, topic)

    def sizes() -> dict[str, int]:
        md = describe(c, topic, timeout=5)
        return {f"p{p}": len(md.partitions[p].isrs) for p in sorted(md.partitions)}

    chart = LiveChart(title=f"in-sync replicas of {topic!r}", ylabel="replicas in sync",
                      interval=interval, window=window)
    return chart.add_series("", sizes)


def state_size(fn: Callable[[], Any], *, name: str = "state", interval: float = MIN_INTERVAL,
               window: float | None = None) -> LiveChart:
    """The size of some state while it is built (e.g. during a replay): ``fn()`` returns a
    number or something with a ``len``. Pair with ``run(seconds, task=...)``."""
    def size() -> float:
        value = fn()
        return float(len(value)) if hasattr(value, "__len__") else value

    chart = LiveChart(title=f"size of {name}", ylabel="entries", interval=interval, window=window)
    return chart.add_series(name, size)
