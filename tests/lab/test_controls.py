"""Lab controls driven headlessly (button.click(), slider.value) against the real cluster."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Producer

import labkit
from labkit import kafka
from labkit.lab.controls import (
    BrokerPanel,
    ConsumerPanel,
    ControlError,
    ProducerPanel,
    TimeTravel,
)
from labkit.scenarios import get_scenario


def _produce(cluster: labkit.Cluster, topic: str, records: list[tuple[Any, Any, Any]]
             ) -> list[int]:
    """Produce (key, value, headers) records, all acknowledged; returns their timestamps."""
    stamps: list[int] = []

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        stamps.append(msg.timestamp()[1])

    producer = Producer(cluster.config(acks="all"))
    for key, value, headers in records:
        producer.produce(topic, key=key, value=value, headers=headers, on_delivery=delivered)
    assert producer.flush(30) == 0
    assert len(stamps) == len(records)
    return stamps


def _plain(n: int, tag: str) -> list[tuple[Any, Any, Any]]:
    return [(f"k{i % 5}", f"{tag} {i}", None) for i in range(n)]


def _after(ms: int) -> None:
    """Return once the wall clock has passed ``ms`` (a record produced now is stamped later)."""
    deadline = time.monotonic() + 5
    while time.time() * 1000 <= ms:
        assert time.monotonic() < deadline
        time.sleep(0.001)


# -- producer ----------------------------------------------------------------------------------
def test_producer_panel_drives_a_real_producer(cluster: labkit.Cluster, topic: str) -> None:
    from labkit.producer import produce

    cluster.fresh_topic(topic, partitions=3)
    panel = ProducerPanel(lambda: produce("pizza", topic, rate=20, seconds=120,
                                          cluster=cluster), rate=20)
    panel.buttons["start"].click()
    assert panel.last_error is None, panel.last_error
    handle = panel.handle
    try:
        assert panel.running and handle.running and handle.rate == 20
        cluster.wait_for("10 acknowledged events", lambda: handle.acked >= 10, timeout=30)
        panel.rate.value = 200
        assert handle.rate == 200
        panel.buttons["pause"].click()
        assert handle.paused and panel.message.startswith("paused")
        sent = handle.sent
        panel.buttons["resume"].click()
        assert not handle.paused
        cluster.wait_for("more events after resume", lambda: handle.sent > sent + 20, timeout=30)
    finally:
        panel.buttons["stop"].click()
    assert panel.last_error is None, panel.last_error
    assert not panel.running and not handle.running
    counts = panel.refresh()
    assert counts["failed"] == 0
    assert counts["acked"] == counts["sent"] == sum(kafka.offsets(cluster, topic).values())
    assert f"acked {counts['acked']}" in panel.message

    panel.buttons["stop"].click()  # nothing runs any more
    assert isinstance(panel.last_error, ControlError) and "press start" in panel.message


def test_producer_panel_refuses_a_factory_without_a_handle() -> None:
    panel = ProducerPanel(lambda: object())
    with pytest.raises(ControlError, match="without stop, pause, resume, rate"):
        panel.start()
    with pytest.raises(ControlError, match="rate="):
        ProducerPanel(lambda: None, rate=0)


# -- consumer ----------------------------------------------------------------------------------
def test_consumer_panel_pauses_resumes_and_resets_to_a_time(
        cluster: labkit.Cluster, topic: str, group: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    first = _produce(cluster, topic, _plain(30, "a"))
    cut = max(first) + 1  # every later record is stamped at or after this
    _after(cut)
    _produce(cluster, topic, _plain(20, "b"))
    seen: list[bytes] = []
    panel = ConsumerPanel(topic, group, cluster=cluster, on_record=lambda m: seen.append(m.value()))
    with pytest.raises(ControlError, match="not running"):
        panel.pause()
    panel.buttons["start"].click()
    try:
        cluster.wait_for("50 records consumed", lambda: panel.consumed == 50, timeout=60)
        panel.buttons["pause"].click()
        assert panel.last_error is None and panel.paused and panel.message.startswith("paused")
        _produce(cluster, topic, _plain(10, "c"))
        polls = panel.polls_while_paused
        cluster.wait_for("10 polls while paused", lambda: panel.polls_while_paused >= polls + 10,
                         timeout=30)
        assert panel.consumed == 50  # ten chances to fetch, nothing fetched
        panel.buttons["resume"].click()
        cluster.wait_for("60 records consumed", lambda: panel.consumed == 60, timeout=30)

        new = panel.reset_to(datetime.fromtimestamp(cut / 1000, UTC))
        ends = kafka.offsets(cluster, topic)
        assert sum(ends[p] - o for p, o in new.items()) == 30  # the b and c records again
        cluster.wait_for("b and c consumed again", lambda: panel.consumed == 90, timeout=30)
        again = sorted(x.decode() for x in seen[60:])
        assert again == sorted(v for _k, v, _h in _plain(20, "b") + _plain(10, "c"))
    finally:
        panel.buttons["stop"].click()
    assert panel.last_error is None, panel.last_error
    assert not panel.running

    # stopped: the reset only commits; "0 minutes ago" means the end of every partition
    new = panel.reset_to(minutes_ago=0)
    done = {p: o for (_t, p), o in kafka.committed(cluster, group, topic).items()}
    assert done == new == {p: int(o) for p, o in ends.items()}
    with pytest.raises(ControlError, match="either"):
        panel.reset_to()


# -- brokers -----------------------------------------------------------------------------------
def test_broker_panel_kills_and_restarts_a_node(cluster: labkit.Cluster, topic: str) -> None:
    if len(cluster.nodes) < 3:
        pytest.skip("needs the 3-node lab cluster")
    cluster.fresh_topic(topic, partitions=3, replication_factor=3)
    panel = BrokerPanel(cluster=cluster, topic=topic)
    table = panel.refresh()
    assert list(table["partition"]) == [0, 1, 2]
    assert all(len(isr) == 3 for isr in table["isr"])
    victim = max(panel.alive())
    try:
        panel.buttons[victim, "kill"].click()
        assert panel.last_error is None, panel.last_error
        assert panel.alive()[victim] is False
        assert "DOWN" in panel.node_labels[victim].value

        def shrunk() -> bool:
            return all(victim not in isr for isr in panel.refresh()["isr"])

        cluster.wait_for(f"node {victim} to leave every ISR", shrunk, timeout=60)
        assert bool(panel.table["under_replicated"].all())
    finally:
        panel.buttons[victim, "restart"].click()
        if not panel.alive()[victim]:  # the button failed: restart it anyway
            cluster.start_node(victim)
    assert panel.last_error is None, panel.last_error
    assert panel.alive()[victim] is True and victim in cluster.broker_ids()
    cluster.wait_for(f"node {victim} back in every ISR",
                     lambda: all(len(isr) == 3 for isr in panel.refresh()["isr"]), timeout=60)
    assert f"{victim}" in panel.message and "up" in panel.node_labels[victim].value


# -- time travel -------------------------------------------------------------------------------
def _count(state: Counter[str], event: Any) -> Counter[str]:
    state[event.type] += 1
    return state


def test_time_travel_folds_up_to_the_chosen_offset(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    events = list(get_scenario("pizza", seed=3, limit=40))
    _produce(cluster, topic, [(e.key, e.value, e.headers) for e in events])
    _produce(cluster, topic, [(b"bad", b"not an event", None)])
    types = [e.type for e in events]
    rendered: list[int] = []
    panel = TimeTravel(topic, _count, Counter(), cluster=cluster,
                       render=lambda s: rendered.append(sum(s.values())))
    assert len(panel.records) == 40 and len(panel.skipped) == 1
    assert "1 undecodable skipped" in panel.message
    assert panel.last_state == Counter(types) and rendered[-1] == 40
    assert panel.at_offset(10) == Counter(types[:10])
    assert panel.slider.value == 10 and "@9" in panel.message
    panel.slider.value = 25  # forward: folds only the new events
    assert panel.last_state == Counter(types[:25]) and rendered[-1] == 25
    panel.slider.value = 3  # back: rebuilt from a copy of the initial state
    assert panel.last_state == Counter(types[:3]) and panel.last_error is None
    assert panel.initial == Counter()


def test_time_travel_by_time_across_partitions(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    events = list(get_scenario("pizza", seed=5, limit=30))
    stamps = _produce(cluster, topic, [(e.key, e.value, e.headers) for e in events[:12]])
    _after(max(stamps))
    _produce(cluster, topic, [(e.key, e.value, e.headers) for e in events[12:]])
    panel = TimeTravel(topic, _count, Counter(), cluster=cluster)
    assert panel.last_state == Counter(e.type for e in events)
    moment = datetime.fromtimestamp(max(stamps) / 1000, UTC)
    assert panel.at_time(moment) == Counter(e.type for e in events[:12])
    with pytest.raises(ControlError, match="partition="):
        panel.at_offset(3)

    def broken(state: Any, event: Any) -> None:
        return None

    with pytest.raises(ControlError, match="fold returned None"):
        TimeTravel(topic, broken, {}, cluster=cluster)
    with pytest.raises(ControlError, match="max_records"):
        TimeTravel(topic, _count, Counter(), cluster=cluster, max_records=10)
