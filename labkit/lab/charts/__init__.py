"""Live charts (``labkit.charts`` in the lessons): a plot that updates in place while events
flow, then stays as ONE static PNG in the notebook.

- :class:`LiveChart`: lines of sampled numbers, one unit per y-axis (two at most), marks
  (``chart.mark("consumer paused")``; labkit's own actions mark running charts by themselves),
  a title and a ``note`` saying what to notice. :class:`StripChart`: states over time.
- ready-made: :func:`throughput`, :func:`log_end_offsets`, :func:`lag_chart`,
  :func:`isr_sizes`, :func:`state_size`, :func:`assignment` (partition -> member),
  :func:`isr_grid` (leader / in sync / out of sync / offline, per partition and node).
- the lab style (:mod:`labkit.lab.charts.style`): the same colour for a partition, node or
  group in every chart, HiDPI pictures, ``LABKIT_PRESENTER=1`` for larger ones.
"""

from __future__ import annotations

from labkit.exceptions import ChartError
from labkit.lab.charts.live import MIN_INTERVAL, LiveChart
from labkit.lab.charts.ready import (
    assignment,
    assignment_sample,
    isr_grid,
    isr_sizes,
    lag_chart,
    log_end_offsets,
    replica_states,
    state_size,
    throughput,
)
from labkit.lab.charts.strips import StripChart
from labkit.lab.charts.style import colour

__all__ = ["MIN_INTERVAL", "ChartError", "LiveChart", "StripChart", "assignment",
           "assignment_sample", "colour", "isr_grid", "isr_sizes", "lag_chart",
           "log_end_offsets", "replica_states", "state_size", "throughput"]
