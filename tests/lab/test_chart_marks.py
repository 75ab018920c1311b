"""Charts that tell the story: one unit per y-axis (a twin axis for a second), marks for what
the lesson did (chart.mark, and labkit's own actions through labkit.moments), a note under the
title. Checked on the figure before it is rendered; no cluster."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from labkit import moments
from labkit.lab.charts import ChartError, LiveChart
from labkit.services import Service


def _mark_lines(fig: Any) -> list[float]:
    return [float(line.get_xdata()[0]) for ax in fig.axes for line in ax.lines
            if line.get_gid() == "labkit-mark"]


def _mark_labels(fig: Any) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts
            if t.get_gid() == "labkit-mark-label"]


def _counter() -> Any:
    count = itertools.count()
    return lambda: next(count)


# -- units ------------------------------------------------------------------------------------
def test_one_unit_one_axis_labelled_with_it() -> None:
    chart = LiveChart(title="t").add_series("sent", _counter(), rate=True, unit="events")
    chart.add_series("acked", _counter(), rate=True, unit="events")
    chart.run(30, display=False, until=lambda: len(chart.samples) >= 2)
    assert chart.units == ["events/s"] and chart.ylabel == "events/s"
    fig = chart.figure()
    assert len(fig.axes) == 1
    assert fig.axes[0].get_ylabel() == "events/s"
    assert fig.axes[0].get_xlabel() == "seconds"


def test_two_units_get_a_twin_axis_each_with_its_lines() -> None:
    chart = (LiveChart(title="firehose")
             .add_series("", lambda: {"orders": 5}, rate=True, unit="events")
             .add_series("lag", lambda: {"alerts": 3, "report": 900}, unit="events behind"))
    chart.run(30, display=False, until=lambda: len(chart.samples) >= 2)
    fig = chart.figure()
    left, right = fig.axes
    assert (left.get_ylabel(), right.get_ylabel()) == ("events/s", "events behind")
    assert [ln.get_label() for ln in left.lines if ln.get_gid() != "labkit-mark"] == ["orders"]
    assert sorted(ln.get_label() for ln in right.lines) == ["lag alerts", "lag report"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["orders (events/s)", "lag alerts (events behind)",
                      "lag report (events behind)"]


def test_a_third_unit_is_refused_in_one_line() -> None:
    chart = LiveChart().add_series("a", _counter(), unit="events").add_series(
        "b", _counter(), unit="offset")
    with pytest.raises(ChartError, match="two at most") as info:
        chart.add_series("c", _counter(), unit="bytes")
    assert "\n" not in str(info.value)
    chart.add_series("d", _counter(), unit="offset")  # a unit it has is fine
    chart.add_series("e", _counter())  # no unit: the first axis
    with pytest.raises(ChartError, match="unit"):
        chart.add_series("f", _counter(), unit="  ")


def test_ylabel_still_labels_the_first_axis() -> None:
    """The lessons' `LiveChart(ylabel=...)` and `chart.ylabel = ...` keep working."""
    chart = LiveChart(title="cost", ylabel="kB").add_series("", lambda: {"fat": 1.0})
    assert chart.units == ["kB"] and chart.ylabel == "kB"
    chart.ylabel = "events/s · events behind"
    chart.run(30, display=False, until=lambda: len(chart.samples) >= 1)
    assert [ax.get_ylabel() for ax in chart.figure().axes] == ["events/s · events behind"]


# -- marks ------------------------------------------------------------------------------------
def test_marks_made_during_the_run_are_lines_with_labels() -> None:
    chart = LiveChart(title="t").add_series("n", _counter(), unit="events")

    def story() -> None:
        time.sleep(0.3)
        chart.mark("consumer paused")
        time.sleep(1.0)  # pacing: two marks far apart
        chart.mark("consumer resumed")

    chart.run(30, display=False, task=story)
    marks = chart.marks
    assert [label for _at, label in marks] == ["consumer paused", "consumer resumed"]
    assert 0.2 < marks[0][0] < marks[1][0] < chart.samples["elapsed"].iloc[-1] + 0.01
    fig = chart.figure()
    assert _mark_lines(fig) == [at for at, _ in marks]
    assert _mark_labels(fig) == ["consumer paused", "consumer resumed"]
    # the legend is outside the plot, below it: the marks' labels cannot be under it
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    legend_box = fig.legends[0].get_window_extent(FigureCanvasAgg(fig).get_renderer())
    plot_box = fig.axes[0].get_window_extent()
    assert legend_box.y1 < plot_box.y0


def test_labkit_actions_mark_every_running_chart_and_no_other() -> None:
    service = Service("marks-demo", "marks-topic", cluster=object())  # type: ignore[arg-type]
    one = LiveChart(title="one").add_series("n", _counter())
    two = LiveChart(title="two").add_series("n", _counter())

    def act() -> None:
        time.sleep(0.2)
        service.pause()
        moments.announce("node 2 stopped")
        service.resume()

    done = threading.Thread(target=lambda: two.run(30, display=False,
                                                   until=lambda: len(two.samples) >= 4))
    done.start()
    one.run(30, display=False, task=act)
    done.join(30)
    expected = ["marks-demo paused", "node 2 stopped", "marks-demo resumed"]
    for chart in (one, two):
        assert [label for _at, label in chart.marks] == expected
        assert _mark_labels(chart.figure())[0].startswith("marks-demo paused")
    assert moments.listeners() == 0  # both unsubscribed when their run ended
    moments.announce("node 3 killed")  # nobody runs: nobody is marked
    assert len(one.marks) == 3
    one.run(1.0, display=False)
    assert one.marks == []  # a new run starts with no marks of the last one


def test_close_marks_share_one_label_and_planned_marks_stay() -> None:
    chart = LiveChart().add_series("n", _counter())
    chart.mark("retention.ms=1000", at=0)  # before the run: kept for it
    with pytest.raises(ChartError, match="at="):
        chart.mark("no time")  # outside a run a mark needs its time
    with pytest.raises(ChartError, match="seconds"):
        chart.mark("x", at=-1)
    chart.run(30, display=False, until=lambda: len(chart.samples) >= 3)
    chart.mark("a", at=0.5)
    chart.mark("b", at=0.51)
    assert [label for _at, label in chart.marks] == ["retention.ms=1000", "a", "b"]
    labels = _mark_labels(chart.figure())
    assert labels == ["retention.ms=1000", "a · b"]
    chart.run(1.0, display=False)  # marks given at= outside a run stay for the next
    assert [label for _at, label in chart.marks] == ["retention.ms=1000", "a", "b"]


def test_a_failing_listener_never_breaks_the_action() -> None:
    def broken(label: str, when: float) -> None:
        raise RuntimeError("chart trouble")

    with moments.listening(broken):
        assert moments.listeners() == 1
        moments.announce("producer paused")
    assert moments.listeners() == 0


def test_the_note_says_what_to_notice() -> None:
    chart = LiveChart(title="lag of analytics",
                      note="lag rises while analytics is down and falls after it returns")
    chart.add_series("lag", _counter(), unit="events behind")
    fig = chart.figure()
    notes = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "labkit-note"]
    assert notes == ["lag rises while analytics is down and falls after it returns"]
    assert fig.axes[0].get_title() == "lag of analytics"
