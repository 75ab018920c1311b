"""LiveChart: bounded, at most 2 samples a second, one PNG in a saved notebook; the ready-made
charts read the real cluster."""

from __future__ import annotations

import base64
import itertools
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import labkit
from labkit.exceptions import UnknownTopicError, UsageError
from labkit.kafka import committed, describe_topic, offsets
from labkit.lab.charts import (
    ChartError,
    LiveChart,
    isr_sizes,
    lag_chart,
    log_end_offsets,
    state_size,
    throughput,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "livechart.ipynb"


def _counter() -> Callable[[], int]:
    count = itertools.count()
    return lambda: next(count)


# -- LiveChart on its own ----------------------------------------------------------------------
def test_samples_at_most_twice_a_second_for_the_bounded_time() -> None:
    chart = LiveChart(title="count", interval=0.1).add_series("n", _counter())
    assert chart.interval == 0.5  # clamped: at most 2 updates a second
    df = chart.run(2.0, scaled=False, display=False)
    # On the chart's own clock: samples at least an interval apart (so at most t=0, 0.5, 1.0,
    # 1.5, 2.0), none scheduled after the bounded time (the last one was due an interval after
    # the one before it; a busy machine may take it a little late), and the run went on until
    # the next sample would have fallen after it. Load makes samples fewer, never closer.
    assert len(df) <= 5, df
    assert list(df["n"]) == list(range(len(df)))
    gaps = df["elapsed"].diff().dropna()
    assert (gaps >= 0.5 - 1e-3).all(), df
    assert df["elapsed"].iloc[-2] + 0.5 <= 2.0 + 2e-3, df  # elapsed is rounded to 1 ms
    assert df["elapsed"].iloc[-1] > 2.0 - 0.5, df
    assert df["time"].is_monotonic_increasing
    seconds = (df["time"].iloc[-1] - df["time"].iloc[0]).total_seconds()
    assert seconds == pytest.approx(df["elapsed"].iloc[-1], abs=0.05)


def test_run_takes_real_seconds_unless_asked_to_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Like produce(seconds=...), run(seconds) is real seconds: LABKIT_TIME_SCALE changes
    it only with scaled=True (lessons pass labkit.scaled(x) where CI may shorten a demo)."""
    monkeypatch.setenv("LABKIT_TIME_SCALE", "0.25")
    df = LiveChart().add_series("n", _counter()).run(1.0, display=False)
    # unscaled: sampled on the 0.5 s grid until the next sample would pass 1 s
    assert 0.5 <= df["elapsed"].iloc[-1] <= 1.0 + 2e-3, df
    assert df["elapsed"].iloc[-1] + 0.5 > 1.0 - 2e-3, df
    df = LiveChart().add_series("n", _counter()).run(4.0, scaled=True, display=False)
    assert df["elapsed"].iloc[-1] <= 1.0 + 1e-3, df
    assert len(df) <= 3


def test_dict_samples_become_lines_and_rate_is_per_second() -> None:
    grown = itertools.count(0, 50)  # 50 more at every sample, however far apart they are
    chart = (LiveChart(interval=0.5)
             .add_series("x", lambda: {"a": 1, "b": 2.5})
             .add_series("", lambda: {"grow": next(grown)}, rate=True))
    df = chart.run(30, scaled=False, display=False, until=lambda: len(chart.samples) >= 3)
    assert len(df) == 3
    assert list(df.columns) == ["elapsed", "time", "x a", "x b", "grow"]
    assert (df["x a"] == 1).all() and (df["x b"] == 2.5).all()
    assert math.isnan(df["grow"].iloc[0])  # a rate needs two samples
    # per second of the chart's own clock: rate x seconds between samples = the growth
    per_gap = (df["grow"] * df["elapsed"].diff()).iloc[1:]
    assert per_gap.to_list() == pytest.approx([50, 50]), df


def test_until_and_task_stop_the_run_early() -> None:
    n = _counter()
    calls: list[int] = []
    chart = LiveChart().add_series("n", lambda: calls.append(n()) or calls[-1])
    df = chart.run(60, scaled=False, display=False, until=lambda: calls[-1] >= 2)
    assert len(df) == 3

    done = threading.Event()
    at_end: list[int] = []

    def build() -> str:
        done.wait(0.8)
        at_end.append(len(chart.samples))  # samples taken while the task ran
        return "built"

    df = chart.run(60, scaled=False, display=False, task=build)
    assert chart.task_result == "built"
    # the run stops at the next sample after the task ends (two if that sample raced the
    # thread's exit), however long the task took on a loaded machine
    assert len(df) <= at_end[0] + 2, (df, at_end)

    def fails() -> None:
        raise ValueError("broken fold")

    with pytest.raises(ValueError, match="broken fold"):
        chart.run(60, scaled=False, display=False, task=fails)
    with pytest.raises(ChartError, match="still running"):
        chart.run(0.6, scaled=False, display=False, task=lambda: done.wait(3))


def test_failed_samples_are_gaps_and_kept_in_errors() -> None:
    n = _counter()

    def flaky() -> int:
        i = n()
        if i == 1:
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker down"))
        return i

    chart = LiveChart().add_series("n", flaky)
    df = chart.run(30, scaled=False, display=False, until=lambda: len(chart.samples) >= 3)
    assert math.isnan(df["n"].iloc[1]) and df["n"].iloc[2] == 2
    assert len(chart.errors) == 1 and "broker down" in chart.errors[0][2]
    assert chart.png().startswith(b"\x89PNG")


def test_window_shows_only_the_last_seconds() -> None:
    chart = LiveChart(window=1.0).add_series("n", _counter())
    df = chart.run(30, scaled=False, display=False, until=lambda: len(chart.samples) >= 4)
    left, right = chart.figure().axes[0].get_xlim()
    assert (left, right) == (df["elapsed"].iloc[-1] - 1.0, df["elapsed"].iloc[-1])
    assert LiveChart().add_series("n", _counter()).figure().axes[0].get_title() == "n"


def test_bad_input_says_what_to_do() -> None:
    with pytest.raises(ChartError, match="interval"):
        LiveChart(interval=0)
    with pytest.raises(ChartError, match="add_series"):
        LiveChart().run(1)
    chart = LiveChart().add_series("s", lambda: "text")
    with pytest.raises(ChartError, match="number or a dict of numbers"):
        chart.run(1, scaled=False, display=False)
    with pytest.raises(ChartError, match="already has"):
        chart.add_series("s", lambda: 1)
    with pytest.raises(UsageError, match="seconds"):
        LiveChart().add_series("n", lambda: 1).run(0)


def test_state_size_follows_a_task() -> None:
    state: dict[int, int] = {}

    def build() -> int:
        for i in range(60):
            state[i] = i * i
            time.sleep(0.02)  # pacing: let the chart see the state grow
        return len(state)

    chart = state_size(lambda: state, name="squares")
    df = chart.run(30, scaled=False, display=False, task=build)
    assert chart.task_result == 60
    assert df["squares"].iloc[-1] == 60
    assert df["squares"].is_monotonic_increasing


# -- ready-made charts against the cluster -----------------------------------------------------
def _produce(cluster: labkit.Cluster, topic: str, n: int, seconds: float,
             after: threading.Event | None = None) -> int:
    """Produce ``n`` events over ``seconds`` (once ``after`` is set), all acknowledged."""
    if after is not None:
        assert after.wait(30), "the chart took no first sample"
    producer = Producer(cluster.config(acks="all", linger_ms=5))
    for i in range(n):
        producer.produce(topic, key=f"k{i % 11}", value=f"event {i}")
        producer.poll(0)
        time.sleep(seconds / n)  # pacing: spread the events over time
    assert producer.flush(30) == 0
    return n


def _after_first_sample() -> tuple[threading.Event, Callable[[], bool]]:
    """An event set once the chart has sampled (``until`` runs after every sample)."""
    sampled = threading.Event()
    return sampled, lambda: sampled.set() or False


def test_throughput_and_log_end_offsets_rise(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    n = 150
    chart = throughput(topic, cluster=cluster)
    sampled, until = _after_first_sample()
    df = chart.run(60, scaled=False, display=False, until=until,
                   task=lambda: _produce(cluster, topic, n, 1.5, sampled))
    assert not chart.errors, chart.errors
    rates = df[topic]
    assert len(df) >= 3 and rates.max() > 0
    # events/s times seconds, summed: exactly the events written after the first sample
    assert (rates * df["elapsed"].diff()).sum() == pytest.approx(n, abs=1e-6)

    chart = log_end_offsets(topic, cluster=cluster)
    sampled, until = _after_first_sample()
    df = chart.run(60, scaled=False, display=False, until=until,
                   task=lambda: _produce(cluster, topic, n, 1.5, sampled))
    parts = ["p0", "p1", "p2"]
    assert list(df.columns[2:]) == parts
    assert (df[parts].diff().dropna() >= 0).all().all()
    assert df[parts].iloc[0].sum() == n and df[parts].iloc[-1].sum() == 2 * n


def test_lag_chart_counts_what_the_group_has_not_committed(cluster: labkit.Cluster,
                                                          topic: str) -> None:
    from labkit.kafka import delete_groups

    cluster.fresh_topic(topic, partitions=3)
    _produce(cluster, topic, 90, 0.1)
    ends = offsets(cluster, topic)
    group = f"lag-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(cluster.config(group_id=group, enable_auto_commit=False))
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, int(ends[0]))], asynchronous=False)
        assert committed(cluster, group, topic) == {(topic, 0): ends[0]}
        df = lag_chart(group, topic, cluster=cluster).run(1.0, scaled=False, display=False)
        last = df[["p0", "p1", "p2"]].iloc[-1]
        assert last.to_dict() == {"p0": 0, "p1": ends[1], "p2": ends[2]}  # log start 0
        assert last.sum() == 90 - ends[0]
    finally:
        consumer.close()
        delete_groups(cluster, [group])


def test_isr_sizes_match_the_metadata(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=2)
    md = describe_topic(cluster, topic)  # not the raw admin call: it may ask a node that does
    # not know the new topic yet (each node learns of it at its own pace); this waits for one
    df = isr_sizes(topic, cluster=cluster).run(1.0, scaled=False, display=False)
    assert list(df.columns[2:]) == ["p0", "p1"]
    for p in (0, 1):
        assert (df[f"p{p}"] == len(md.partitions[p].replicas)).all()


def test_ready_made_charts_refuse_a_missing_topic(cluster: labkit.Cluster) -> None:
    with pytest.raises(UnknownTopicError, match="does not exist"):
        throughput(f"missing-{uuid.uuid4().hex[:8]}", cluster=cluster)


# -- the notebook: exactly one PNG left behind -------------------------------------------------
def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), path) if p))


@pytest.mark.cluster  # the notebook's kernel attaches to the lab cluster itself
def test_notebook_keeps_exactly_one_png(monkeypatch: pytest.MonkeyPatch) -> None:
    import nbclient
    import nbformat

    _kernel_env(monkeypatch)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    chart_cells = [c for c in nb.cells if "chart.run(" in c.source]
    assert len(chart_cells) == 1
    pngs = [o for o in chart_cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, chart_cells[0].outputs
    assert len(chart_cells[0].outputs) == 1
    assert base64.b64decode(pngs[0].data["image/png"]).startswith(b"\x89PNG")
    everywhere = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(everywhere) == 1


@pytest.mark.cluster  # the notebook's kernel attaches to the lab cluster itself
def test_notebook_passes_nbval(monkeypatch: pytest.MonkeyPatch) -> None:
    _kernel_env(monkeypatch)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
         "-p", "no:cacheprovider", str(NOTEBOOK)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
