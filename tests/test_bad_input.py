"""Bad input, everywhere: every public entry point × the mistakes a student makes all day.

Each row of the table asserts that the call
* raises the expected error of labkit's one error tree,
* with one line that names the bad input and says what to do (the row lists the words),
* within 1 s,
* and leaves nothing behind: no topic or group created, no record sent to the lesson's topic,
  the cluster's state file unchanged, no background thread left running.

The CLI's own table (every command and option with nonsense) is tests/test_cli_nonsense.py;
decoding hostile bytes is tests/test_codec_hostile.py.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit import check, inspect, kafka
from labkit.exceptions import (
    ChartError,
    ClusterNotRunningError,
    ControlError,
    DecodeError,
    LabkitError,
    NotFoundError,
    ServiceError,
    SettingsError,
    StateError,
    UnknownGroupError,
    UnknownTopicError,
    UsageError,
)
from labkit.lab import charts
from labkit.lab.controls import BrokerPanel, ConsumerPanel, ProducerPanel, TimeTravel
from tests.conftest import produce_records

NAIVE = datetime(2025, 1, 1, 12, 0)  # no timezone
RUN = uuid.uuid4().hex[:6]
TOPIC = f"bad-input-{RUN}"
GROUP = f"bad-input-group-{RUN}"
MISSING = f"bad-input-{RUN}-nosuch"


@dataclass(frozen=True)
class Ctx:
    cluster: labkit.Cluster
    stopped: Any  # a producer handle that has finished


@dataclass(frozen=True)
class Row:
    entry: str  # the public entry point
    bad: str  # the kind of mistake
    call: Callable[[Ctx], object]
    error: type[LabkitError]
    says: tuple[str, ...]  # words the one-line message must contain: the input and the fix


def _fold(state: Any, _event: Any) -> Any:
    return state


ROWS = [
    # -- labkit.connect / labkit.scaled -----------------------------------------------------
    Row("labkit.connect", "unknown enumerated value", lambda c: labkit.connect(backend="nope"),
        SettingsError, ("'nope'", "choose one of")),
    Row("labkit.connect", "out-of-range number", lambda c: labkit.connect(nodes=5),
        SettingsError, ("1 or 3",)),
    Row("labkit.scaled", "negative number", lambda c: labkit.scaled(-2), UsageError,
        ("seconds=-2", "above 0")),
    Row("labkit.scaled", "wrong type", lambda c: labkit.scaled("8"), UsageError,
        ("seconds='8'", "above 0")),
    # -- producing --------------------------------------------------------------------------
    Row("labkit.produce", "unknown topic", lambda c: labkit.produce(
        "pizza", MISSING, limit=5, cluster=c.cluster), UnknownTopicError,
        (MISSING, "does not exist", "create it")),
    Row("labkit.produce", "unknown scenario", lambda c: labkit.produce(
        "piza", TOPIC, limit=5, cluster=c.cluster), SettingsError, ("'piza'", "known:")),
    Row("labkit.produce", "zero number", lambda c: labkit.produce(
        "pizza", TOPIC, rate=0, cluster=c.cluster), UsageError, ("rate=0", "above 0")),
    Row("labkit.produce", "negative number", lambda c: labkit.produce(
        "pizza", TOPIC, seconds=-1, cluster=c.cluster), UsageError, ("seconds=-1", "above 0")),
    Row("labkit.produce", "wrong type", lambda c: labkit.produce(
        "pizza", TOPIC, limit=2.5, cluster=c.cluster), UsageError, ("limit=2.5", "whole")),
    Row("labkit.produce", "wrong type", lambda c: labkit.produce(
        "pizza", TOPIC, rate="fast", cluster=c.cluster), UsageError, ("rate='fast'", "number")),
    Row("labkit.produce", "empty name", lambda c: labkit.produce(
        "pizza", "", cluster=c.cluster), UsageError, ("topic=''", "topic name")),
    Row("labkit.produce", "wrong type", lambda c: labkit.produce(
        42, TOPIC, cluster=c.cluster), UsageError, ("scenario=42", "scenario name")),
    Row("labkit.produce", "unknown client setting", lambda c: labkit.produce(
        "pizza", TOPIC, limit=1, cluster=c.cluster, extra_config={"acks.typo": "all"}),
        UsageError, ("bad producer config", "acks.typo")),
    Row("labkit.produce_all", "endless scenario", lambda c: labkit.produce_all(
        "pizza", TOPIC, cluster=c.cluster), UsageError, ("needs limit=N",)),
    Row("labkit.produce_all", "unknown topic", lambda c: labkit.produce_all(
        "pizza", MISSING, limit=3, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("ProducerHandle.pause", "stopped handle used again", lambda c: c.stopped.pause(),
        StateError, ("has stopped", "labkit.produce")),
    Row("ProducerHandle.rate", "stopped handle used again",
        lambda c: setattr(c.stopped, "rate", 10), StateError, ("has stopped",)),
    Row("labkit.get_scenario", "unknown scenario", lambda c: labkit.get_scenario("pizzza"),
        SettingsError, ("'pizzza'", "known:")),
    Row("labkit.get_scenario", "out-of-range number", lambda c: labkit.get_scenario(
        "pizza", poison_fraction=2), SettingsError, ("poison_fraction=2", "from")),
    # -- reading ----------------------------------------------------------------------------
    Row("labkit.read", "unknown topic", lambda c: labkit.read(
        TOPIC + "x", cluster=c.cluster), UnknownTopicError,
        (f"{TOPIC}x", "did you mean", TOPIC)),
    Row("labkit.read", "partition that does not exist", lambda c: labkit.read(
        TOPIC, partitions=[7], cluster=c.cluster), UnknownTopicError,
        ("no partition 7", "[0, 1]")),
    Row("labkit.read", "unknown enumerated value", lambda c: labkit.read(
        TOPIC, stop="lates", cluster=c.cluster), UsageError, ("stop='lates'", "'latest'")),
    Row("labkit.read", "unknown enumerated value", lambda c: labkit.read(
        TOPIC, start="beginning", cluster=c.cluster), UsageError, ("'beginning'", "'earliest'")),
    Row("labkit.read", "negative number", lambda c: labkit.read(
        TOPIC, start=-1, cluster=c.cluster), UsageError, ("start=-1", ">= 0")),
    Row("labkit.read", "wrong type", lambda c: labkit.read(
        TOPIC, start=1.5, cluster=c.cluster), UsageError, ("start=1.5", "offset")),
    Row("labkit.read", "naive datetime", lambda c: labkit.read(
        TOPIC, start=NAIVE, cluster=c.cluster), UsageError, ("no timezone", "timezone.utc")),
    Row("labkit.read", "committed without a group", lambda c: labkit.read(
        TOPIC, start="committed", cluster=c.cluster), UsageError, ("group=",)),
    Row("labkit.read", "unknown enumerated value", lambda c: labkit.read(
        TOPIC, errors="ignore", cluster=c.cluster), UsageError,
        ("errors='ignore'", "'skip_to_dead_letter'")),
    Row("labkit.read", "empty name", lambda c: labkit.read(
        TOPIC, group="", cluster=c.cluster), UsageError, ("group=''", "group name")),
    Row("labkit.read", "wrong type", lambda c: labkit.read(None, cluster=c.cluster),
        UsageError, ("topic=None", "topic name")),
    Row("labkit.read", "dead letters into the source", lambda c: labkit.read(
        TOPIC, errors="skip_to_dead_letter", dead_letter_topic=TOPIC, cluster=c.cluster),
        UsageError, (TOPIC, "another dead_letter_topic")),
    Row("labkit.replay", "unknown topic", lambda c: labkit.replay(
        MISSING, _fold, {}, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("labkit.replay", "wrong type", lambda c: labkit.replay(
        TOPIC, None, {}, cluster=c.cluster), UsageError, ("fold=None", "fold(state, event)")),
    Row("labkit.replay", "naive datetime", lambda c: labkit.replay(
        TOPIC, _fold, {}, until=NAIVE, cluster=c.cluster), UsageError, ("no timezone",)),
    Row("labkit.replay", "unknown enumerated value", lambda c: labkit.replay(
        TOPIC, _fold, {}, errors="skip", cluster=c.cluster), UsageError, ("errors='skip'",)),
    # -- services ---------------------------------------------------------------------------
    Row("labkit.Service", "unknown enumerated value", lambda c: labkit.Service(
        "g", TOPIC, start="yesterday"), UsageError, ("start='yesterday'", "'earliest'")),
    Row("labkit.Service", "wrong type", lambda c: labkit.Service(
        "g", TOPIC, handler=42), UsageError, ("handler=42", "function")),
    Row("labkit.Service", "empty name", lambda c: labkit.Service(
        "", TOPIC), UsageError, ("service=''",)),
    Row("labkit.Service.start", "unknown topic", lambda c: labkit.Service(
        f"{GROUP}-svc", MISSING, cluster=c.cluster).start(), UnknownTopicError, (MISSING,)),
    Row("labkit.Service.wait_until_caught_up", "stopped handle used again",
        lambda c: labkit.Service(f"{GROUP}-svc", TOPIC, cluster=c.cluster)
        .wait_until_caught_up(5), ServiceError, ("not running", "start()")),
    # -- charts -----------------------------------------------------------------------------
    Row("labkit.LiveChart", "zero number", lambda c: labkit.LiveChart(interval=0),
        ChartError, ("interval=0", ">0")),
    Row("labkit.LiveChart", "negative number", lambda c: labkit.LiveChart(window=-5),
        ChartError, ("window=-5", ">0")),
    Row("LiveChart.run", "zero number", lambda c: labkit.LiveChart().add_series(
        "n", lambda: 1).run(0), UsageError, ("seconds=0", "above 0")),
    Row("LiveChart.run", "chart without a series", lambda c: labkit.LiveChart().run(1),
        ChartError, ("no series", "add_series")),
    Row("LiveChart.add_series", "wrong type", lambda c: labkit.LiveChart().add_series(
        "n", 5), ChartError, ("'n'", "function")),
    Row("charts.throughput", "unknown topic", lambda c: charts.throughput(
        MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("charts.throughput", "empty list", lambda c: charts.throughput(
        [], cluster=c.cluster), ChartError, ("no topics",)),
    Row("charts.log_end_offsets", "unknown topic", lambda c: charts.log_end_offsets(
        MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("charts.lag_chart", "unknown topic", lambda c: charts.lag_chart(
        GROUP, MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("charts.isr_sizes", "unknown topic", lambda c: charts.isr_sizes(
        MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    # -- checks -----------------------------------------------------------------------------
    Row("check.compacted_latest", "nothing to check", lambda c: check.compacted_latest(
        TOPIC, unique=False, cluster=c.cluster), UsageError, ("nothing to check",)),
    Row("check.compacted_latest", "wrong type", lambda c: check.compacted_latest(
        TOPIC, {1: "a"}, cluster=c.cluster), UsageError, ("str or bytes", "'c-17'")),
    Row("check.committed", "negative number", lambda c: check.committed(
        GROUP, TOPIC, -1, cluster=c.cluster), UsageError, ("non-negative", "-1")),
    Row("check.state_equals", "wrong type", lambda c: check.state_equals(1, {}),
        UsageError, ("replayed", "dict, Series or DataFrame")),
    Row("check.topic_config", "nothing to check", lambda c: check.topic_config(
        TOPIC, cluster=c.cluster), UsageError, ("name at least one setting",)),
    Row("check.topic_config", "unknown setting", lambda c: check.topic_config(
        TOPIC, cleanup_polcy="compact", cluster=c.cluster), UsageError,
        ("'cleanup.polcy'", "did you mean cleanup.policy")),
    Row("check.partition_count", "zero number", lambda c: check.partition_count(
        TOPIC, 0, cluster=c.cluster), UsageError, ("n=0", "above 0")),
    Row("check.messages_in_topic", "negative number", lambda c: check.messages_in_topic(
        TOPIC, -3, cluster=c.cluster), UsageError, ("n=-3", ">= 0")),
    Row("check.read_topic", "unknown topic", lambda c: check.read_topic(
        MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    # -- inspectors and the query layer -----------------------------------------------------
    Row("inspect.partitions", "unknown topic", lambda c: inspect.partitions(
        MISSING, cluster=c.cluster), UnknownTopicError, (MISSING, "create it")),
    Row("inspect.lag", "unknown group", lambda c: inspect.lag(
        GROUP + "x", cluster=c.cluster), UnknownGroupError,
        (f"{GROUP}x", "did you mean", GROUP)),
    Row("inspect.lag", "unknown topic", lambda c: inspect.lag(
        GROUP, MISSING, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("inspect.groups", "empty name", lambda c: inspect.groups(
        group="", cluster=c.cluster), UsageError, ("group=''",)),
    Row("inspect.segments", "partition that does not exist", lambda c: inspect.segments(
        TOPIC, 9, cluster=c.cluster), UnknownTopicError, ("no partition 9",)),
    Row("inspect.segments", "node id that does not exist", lambda c: inspect.segments(
        TOPIC, 0, node=99, cluster=c.cluster), NotFoundError, ("node 99", "nodes")),
    Row("inspect.dump_segment", "file that does not exist", lambda c: inspect.dump_segment(
        TOPIC, 0, segment="nope.log", cluster=c.cluster), NotFoundError,
        ("'nope.log'", "its files")),
    Row("inspect.dump_segment", "zero number", lambda c: inspect.dump_segment(
        TOPIC, 0, limit=0, cluster=c.cluster), UsageError, ("limit=0", "above 0")),
    Row("kafka.offsets", "unknown enumerated value", lambda c: kafka.offsets(
        c.cluster, TOPIC, "lates"), UsageError, ("spec='lates'", "did you mean 'latest'")),
    Row("kafka.offsets_for_time", "naive datetime", lambda c: kafka.offsets_for_time(
        c.cluster, TOPIC, NAIVE), UsageError, ("no timezone",)),
    Row("kafka.committed", "unknown topic", lambda c: kafka.committed(
        c.cluster, GROUP, MISSING), UnknownTopicError, (MISSING,)),
    Row("kafka.progress", "unknown topic", lambda c: kafka.progress(
        c.cluster, GROUP, MISSING), UnknownTopicError, (MISSING,)),
    Row("kafka.create_topic", "topic that already exists", lambda c: kafka.create_topic(
        c.cluster, TOPIC), UsageError, (TOPIC, "already exists", "fresh_topic")),
    # -- the cluster ------------------------------------------------------------------------
    Row("Cluster.fresh_topic", "zero number", lambda c: c.cluster.fresh_topic(
        TOPIC, partitions=0), UsageError, ("partitions=0", "above 0")),
    Row("Cluster.fresh_topic", "bad topic setting", lambda c: c.cluster.fresh_topic(
        TOPIC, cleanup_policy="sometimes"), UsageError, (TOPIC, "INVALID_CONFIG")),
    Row("Cluster.leader", "partition that does not exist", lambda c: c.cluster.leader(
        TOPIC, 9), UnknownTopicError, ("no partition 9",)),
    Row("Cluster.stop_node", "node id that does not exist", lambda c: c.cluster.stop_node(99),
        NotFoundError, ("node 99", "nodes are")),
    Row("Cluster.kill_node", "node id that does not exist", lambda c: c.cluster.kill_node(99),
        NotFoundError, ("node 99", "nodes are")),
    Row("Cluster.start_node", "node id that does not exist", lambda c: c.cluster.start_node(
        99), NotFoundError, ("node 99", "nodes are")),
    Row("Cluster.logs", "node id that does not exist", lambda c: c.cluster.logs(99),
        NotFoundError, ("node 99", "nodes are")),
    Row("Cluster.kafka", "unknown enumerated value", lambda c: c.cluster.kafka(
        "kafka-topic"), UsageError, ("'kafka-topic'", "did you mean", "kafka-topics")),
    # -- lab controls -----------------------------------------------------------------------
    Row("controls.ProducerPanel", "zero number", lambda c: ProducerPanel(
        lambda: None, rate=0), ControlError, ("rate=0", "from 1")),
    Row("controls.ConsumerPanel", "unknown topic", lambda c: ConsumerPanel(
        MISSING, GROUP, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("controls.ConsumerPanel", "unknown enumerated value", lambda c: ConsumerPanel(
        TOPIC, GROUP, cluster=c.cluster, auto_offset_reset="oldest"), UsageError,
        ("'oldest'", "'earliest'")),
    Row("ConsumerPanel.stop", "stopped handle used again", lambda c: ConsumerPanel(
        TOPIC, GROUP, cluster=c.cluster).stop(), ControlError, ("not running", "start")),
    Row("ConsumerPanel.reset_to", "naive datetime", lambda c: ConsumerPanel(
        TOPIC, GROUP, cluster=c.cluster).reset_to(NAIVE), UsageError, ("no timezone",)),
    Row("controls.BrokerPanel", "unknown topic", lambda c: BrokerPanel(
        cluster=c.cluster, topic=MISSING), UnknownTopicError, (MISSING,)),
    Row("controls.TimeTravel", "unknown topic", lambda c: TimeTravel(
        MISSING, _fold, {}, cluster=c.cluster), UnknownTopicError, (MISSING,)),
    Row("controls.TimeTravel", "partition that does not exist", lambda c: TimeTravel(
        TOPIC, _fold, {}, partition=5, cluster=c.cluster), UnknownTopicError,
        ("no partition 5",)),
    # -- the codec --------------------------------------------------------------------------
    Row("codec.decode", "bytes that are no event", lambda c: labkit.codec.decode(
        b"\xff\x00garbage", [("ce_type", b"x")]), DecodeError, ()),
]


# -- what "nothing left behind" means -----------------------------------------------------------
def _state_file(cluster: labkit.Cluster) -> Path:
    from labkit.cluster.state import state_path

    return state_path(cluster.settings)


def _snapshot(cluster: labkit.Cluster) -> dict[str, Any]:
    path = _state_file(cluster)
    return {
        "topics": set(kafka.lab_topics(cluster)),
        "groups": {g for g in kafka.group_ids(cluster) if g.startswith("bad-input")},
        "records": kafka.offsets(cluster, TOPIC),
        "state file": hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None,
        "threads": {t.name for t in threading.enumerate()},
    }


@pytest.fixture(scope="module")
def ctx(cluster: labkit.Cluster) -> Iterator[Ctx]:
    cluster.fresh_topic(TOPIC, partitions=2)
    produce_records(cluster, TOPIC, [{"key": f"k{i}", "value": b"v", "partition": i % 2}
                                     for i in range(10)])
    labkit.read(TOPIC, group=GROUP, decode=False, cluster=cluster)  # the group committed
    stopped = labkit.produce("pizza", TOPIC, limit=1, cluster=cluster)
    stopped.wait(60)
    yield Ctx(cluster, stopped)
    kafka.delete_groups(cluster, [GROUP])
    kafka.delete_topics(cluster, [TOPIC])


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.entry}-{r.bad}" for r in ROWS])
def test_bad_input_fails_fast_in_one_line_and_leaves_nothing(ctx: Ctx, row: Row) -> None:
    before = _snapshot(ctx.cluster)
    t0 = time.monotonic()
    with pytest.raises(LabkitError) as caught:
        row.call(ctx)
    took = time.monotonic() - t0
    error = caught.value
    assert isinstance(error, row.error), f"{type(error).__name__}: {error}"
    message = str(error)
    assert message and "\n" not in message, message
    for word in row.says:
        assert word in message, (word, message)
    assert took < 1.0, f"{took:.2f} s: {message}"
    time.sleep(0.05)  # a thread started by mistake would be visible by now
    assert _snapshot(ctx.cluster) == before


def test_the_table_covers_every_kind_of_mistake() -> None:
    kinds = {r.bad for r in ROWS}
    for kind in ("unknown topic", "unknown group", "wrong type", "negative number",
                 "zero number", "unknown enumerated value", "naive datetime",
                 "stopped handle used again", "node id that does not exist",
                 "file that does not exist"):
        assert kind in kinds, kind
    assert len({r.entry for r in ROWS}) >= 50


# -- a cluster that is down: within the configured timeout, saying so --------------------------
DOWN = textwrap.dedent("""
    import sys, time
    import labkit
    from labkit import inspect, kafka
    from labkit.cluster.external import ExternalCluster
    dead = ExternalCluster(labkit.Settings.from_env())
    calls = {
        "inspect.topics": lambda: inspect.topics(cluster=dead),
        "labkit.read": lambda: labkit.read("orders", cluster=dead),
        "labkit.produce": lambda: labkit.produce("pizza", "orders", limit=1, cluster=dead),
        "kafka.offsets": lambda: kafka.offsets(dead, "orders"),
    }
    for name, call in calls.items():
        t0 = time.monotonic()
        try:
            call()
        except labkit.LabkitError as exc:
            print(f"{name}\\t{type(exc).__name__}\\t{time.monotonic() - t0:.2f}\\t{exc}")
""")


def test_a_cluster_that_is_down_is_reported_within_the_request_timeout(
        tmp_path: Path) -> None:
    env = {"LABKIT_HOME": str(tmp_path), "LABKIT_REQUEST_TIMEOUT": "2",
           "LABKIT_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", DOWN], capture_output=True, text=True,
                         timeout=120, env=env, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == ["inspect.topics", "labkit.read", "labkit.produce",
                                    "kafka.offsets"], out.stdout
    for name, kind, took, message in rows:
        assert kind == "ClusterTimeoutError", (name, kind, message)
        assert "is the cluster up" in message, (name, message)
        assert float(took) <= 2 * 2 + 1, (name, took)  # the configured timeout, and a bit


def test_no_lab_cluster_says_how_to_start_one(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    for var in ("LABKIT_BOOTSTRAP_SERVERS", "LABKIT_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    t0 = time.monotonic()
    with pytest.raises(ClusterNotRunningError, match=r"labkit\.connect\(\)|labkit up"):
        labkit.read("orders")
    assert time.monotonic() - t0 < 1.0
    assert not list(tmp_path.iterdir())  # nothing written where there was nothing
