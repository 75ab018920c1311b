"""Strip charts: what state each row (a partition, a replica) is in over time, one coloured
band per row; sampled, run and marked like any :class:`~labkit.lab.charts.live.LiveChart`.

>>> chart = StripChart(title="who reads what").add_series("", lambda: {"p0": "member a"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from labkit.exceptions import ChartError
from labkit.lab.charts import drawing, style
from labkit.lab.charts.live import MIN_INTERVAL, LiveChart, _Series

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _category(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ChartError(f"{where} returned {type(value).__name__} {value!r:.40}; a strip chart's "
                     "sample function returns a dict of texts (or None for nothing)")


class StripChart(LiveChart):
    """Rows of coloured bands: each sample is a dict ``row -> state`` (a text, or None where
    the row has no state, drawn blank). ``colours`` fixes the colour of known states; any
    other state takes the lab style's colour for its name (the same in every chart)."""

    def __init__(self, *, title: str = "", ylabel: str = "", note: str = "",
                 colours: Mapping[str, str] | None = None, interval: float = MIN_INTERVAL,
                 window: float | None = None, size: tuple[float, float] | None = None) -> None:
        super().__init__(title=title, ylabel=ylabel, note=note, interval=interval,
                         window=window, size=size)
        self.colours = dict(colours or {})

    def add_series(self, name: str, sample_fn: Callable[[], Any], *, rate: bool = False,
                   unit: str | None = None) -> StripChart:
        if rate:
            raise ChartError(f"series {name!r}: a strip chart shows states, not rates; "
                             "leave out rate=True")
        super().add_series(name, sample_fn, unit=unit)
        return self

    def _values(self, s: _Series, raw: Any) -> dict[str, Any]:
        where = f"series {s.name!r}"
        if not isinstance(raw, Mapping):
            raise ChartError(f"{where} returned {type(raw).__name__}; a strip chart's sample "
                             "function returns a dict row -> state")
        out = {}
        for k, v in raw.items():
            col = self._column(s, k)
            self._columns.setdefault(col, (s, str(k)))
            out[col] = _category(v, f"{where}[{k!r}]")
        return out

    def colour(self, state: str) -> str:
        return self.colours.get(state) or style.colour(state)

    def _rows_of(self) -> list[str]:
        return list(self._columns) or ["(no rows yet)"]

    def _size(self, st: style.Style) -> tuple[float, float]:
        return self.size or (st.size[0], style.row_height(st, len(self._rows_of())))

    def _draw(self, fig: Figure, frame: drawing.Frame, df: pd.DataFrame) -> None:
        from matplotlib.patches import Patch

        st, rows = frame.style, self._rows_of()
        found = {v for r in rows if r in df for v in df[r] if isinstance(v, str)}
        seen = [s for s in self.colours if s in found] + sorted(found - set(self.colours))
        labels = seen or ["(no state yet)"]
        cols = drawing.legend_columns(labels, st, frame.size[0] * 0.95)
        left = max(len(r) for r in rows) * st.small * 0.62 / 72 + 0.35
        ax = fig.add_subplot()
        legend_top = drawing.layout(fig, frame, twin=False, left=left,
                                    legend_rows=-(-len(labels) // cols))
        self._bands(ax, df, rows)
        ax.set_yticks(range(len(rows)), rows, fontsize=st.small)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
        if self._ylabel:
            ax.set_ylabel(self._ylabel, fontsize=st.font)
        end = float(df["elapsed"].iloc[-1]) + self.interval if len(df) else self.interval
        ax.set_xlim(0.0, end)
        drawing.time_axis(ax, end, frame)
        ax.grid(axis="x", alpha=0.3)
        drawing.draw_marks(ax, frame)
        handles = [Patch(facecolor=self.colour(s), label=s) for s in seen]
        drawing.decorate(fig, ax, frame, handles, seen, legend_top)

    def _bands(self, ax: Axes, df: pd.DataFrame, rows: list[str]) -> None:
        """One run of equal states = one band (gid ``strip:<row>:<state>``)."""
        times = [float(t) for t in df["elapsed"]] if len(df) else []
        ends = [*times[1:], times[-1] + self.interval] if times else []
        for y, row in enumerate(rows):
            if row not in df:
                continue
            runs: dict[str, list[tuple[float, float]]] = {}
            values = list(df[row])
            i = 0
            while i < len(values):
                j = i
                while j + 1 < len(values) and values[j + 1] == values[i]:
                    j += 1
                if isinstance(values[i], str):
                    runs.setdefault(values[i], []).append((times[i], ends[j] - times[i]))
                i = j + 1
            for state, spans in runs.items():
                ax.broken_barh(spans, (y - 0.38, 0.76), facecolors=self.colour(state),
                               edgecolor="white", linewidth=0.5, gid=f"strip:{row}:{state}")
