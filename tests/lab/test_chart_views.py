"""The views the next lessons need, from given samples (no cluster): which member owns each
partition (assignment) and each replica's state (isr_grid)."""

from __future__ import annotations

import time
from types import SimpleNamespace as NS
from typing import Any

import pytest

from labkit.lab.charts import (
    ChartError,
    StripChart,
    assignment,
    assignment_sample,
    isr_grid,
    replica_states,
)
from labkit.lab.charts import ready as ready_module
from labkit.lab.charts.ready import IN_SYNC, LEADER, OFFLINE, OUT_OF_SYNC, REPLICA_COLOURS


def _member(member_id: str, *parts: int, topic: str = "orders") -> Any:
    tps = [NS(topic=topic, partition=p) for p in parts]
    return NS(member_id=member_id, client_id="rdkafka", group_instance_id=None,
              assignment=NS(topic_partitions=tps))


def _bands(chart: StripChart) -> dict[str, list[tuple[float, float]]]:
    """gid strip:<row>:<state> -> the (start, width) spans drawn."""
    out = {}
    for coll in chart.figure().axes[0].collections:
        if (gid := coll.get_gid() or "").startswith("strip:"):
            out[gid] = [(round(p.vertices[0][0], 3), round(p.vertices[2][0] - p.vertices[0][0],
                                                           3)) for p in coll.get_paths()]
    return out


def _feed(chart: StripChart, samples: list[dict[str, str | None]]) -> None:
    it = iter(samples)
    chart.add_series("", lambda: next(it))
    for i in range(len(samples)):
        chart._sample(i * 0.5, time.time())


def test_assignment_sample_maps_partitions_to_members() -> None:
    group = NS(members=[_member("rdkafka-aaaa1111", 0, 2), _member("rdkafka-bbbb2222", 1),
                        _member("rdkafka-cccc3333", 0, topic="other")])
    assert assignment_sample(group, "orders", [0, 1, 2, 3]) == {
        "p0": "rdkafka ·1111", "p1": "rdkafka ·2222", "p2": "rdkafka ·1111", "p3": None}
    assert assignment_sample(NS(members=[]), "orders", [0, 1]) == {"p0": None, "p1": None}


def test_assignment_view_shows_a_rebalance() -> None:
    one = NS(members=[_member("m-aaaa", 0, 1, 2)])
    two = NS(members=[_member("m-aaaa", 0, 1), _member("m-bbbb", 2)])
    samples = [assignment_sample(d, "orders", [0, 1, 2]) for d in (one, one, two, two)]
    chart = StripChart(title="assignment", ylabel="partition")
    _feed(chart, samples)
    chart.mark("second member joined", at=1.0)
    bands = _bands(chart)
    assert bands["strip:p0:rdkafka ·aaaa"] == [(0.0, 2.0)]
    assert bands["strip:p2:rdkafka ·aaaa"] == [(0.0, 1.0)]
    assert bands["strip:p2:rdkafka ·bbbb"] == [(1.0, 1.0)]
    fig = chart.figure()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["p0", "p1", "p2"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["rdkafka ·aaaa",
                                                                  "rdkafka ·bbbb"]
    assert any(t.get_text() == "second member joined" for t in ax.texts)


def test_replica_states_from_partition_metadata() -> None:
    parts = {0: NS(leader=1, replicas=[1, 2, 3], isrs=[1, 3]),
             1: NS(leader=3, replicas=[2, 3], isrs=[3, 2])}
    states = replica_states(parts, live=[1, 3])
    assert states == {"p0 · node 1": LEADER, "p0 · node 2": OFFLINE, "p0 · node 3": IN_SYNC,
                      "p1 · node 1": None, "p1 · node 2": OFFLINE, "p1 · node 3": LEADER}
    back = replica_states(parts, live=[1, 2, 3])
    assert back["p0 · node 2"] == OUT_OF_SYNC and back["p1 · node 2"] == IN_SYNC


def test_isr_grid_colours_each_state() -> None:
    up = {0: NS(leader=2, replicas=[1, 2], isrs=[1, 2])}
    down = {0: NS(leader=1, replicas=[1, 2], isrs=[1])}
    chart = StripChart(title="replicas", colours=REPLICA_COLOURS)
    _feed(chart, [replica_states(up, [1, 2]), replica_states(down, [1]),
                  replica_states(down, [1, 2])])
    bands = _bands(chart)
    assert bands["strip:p0 · node 2:offline"] == [(0.5, 0.5)]
    assert bands["strip:p0 · node 2:follower out of sync"] == [(1.0, 0.5)]
    assert bands["strip:p0 · node 1:leader"] == [(0.5, 1.0)]
    colours = {p.get_label(): p.get_facecolor() for p in chart.figure().legends[0].legend_handles}
    assert list(colours) == [LEADER, IN_SYNC, OUT_OF_SYNC, OFFLINE]


def test_ready_made_views_sample_the_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """assignment() and isr_grid() read labkit.kafka (faked here: no cluster)."""
    fake: Any = object()
    monkeypatch.setattr(ready_module, "partition_ids", lambda c, t: [0, 1])
    monkeypatch.setattr(ready_module, "describe_group", lambda c, g, timeout: NS(
        members=[_member("m-1234", 0, 1)]))
    md = NS(brokers={1: "a", 2: "b"}, topics={"orders": NS(error=None, partitions={
        0: NS(leader=1, replicas=[1, 2], isrs=[1, 2]), 1: NS(leader=2, replicas=[2, 1],
                                                              isrs=[2])})})
    monkeypatch.setattr(ready_module, "metadata", lambda c, timeout: md)
    df = assignment("g", "orders", cluster=fake).run(1.0, display=False)
    assert df.iloc[-1][["p0", "p1"]].to_list() == ["rdkafka ·1234"] * 2
    df = isr_grid("orders", cluster=fake).run(1.0, display=False)
    assert df.iloc[-1]["p1 · node 1"] == OUT_OF_SYNC


def test_strip_chart_refuses_numbers_and_rates() -> None:
    with pytest.raises(ChartError, match="states, not rates"):
        StripChart().add_series("x", lambda: {}, rate=True)
    chart = StripChart().add_series("x", lambda: {"p0": 3})
    with pytest.raises(ChartError, match="dict of texts"):
        chart.run(1, display=False)
