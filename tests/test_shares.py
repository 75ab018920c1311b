"""labkit.shares: share groups (KIP-932). Parsing Kafka's tool output without a cluster; the
rest against the real cluster: settings, members, progress, deletion, and the checks of
:mod:`labkit.lab.sharecheck`."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

import labkit
from labkit import members, shares
from labkit.exceptions import UsageError
from labkit.lab import sharecheck

MEMBERS_OUT = "\n".join([  # the tool's layout (columns padded with spaces), shortened
    "GROUP  CONSUMER-ID  HOST        CLIENT-ID  #PARTITIONS  MEMBER-EPOCH  ASSIGNMENT",
    "t.g    AOFlUaCMRiS  /127.0.0.1  w0         2            3             t.a:0,t.b:1",
    "t.g    uo/KEwqZRgi  /127.0.0.1  w1         0            1             " + " ",
    ""])

OFFSETS_OUT = """
GROUP           TOPIC           PARTITION  START-OFFSET  LAG
t.g             t.a             0          3             0
t.g             t.b             1          -             -
"""

PROGRAM = textwrap.dedent('''
    import json, sys, time
    from confluent_kafka import AcknowledgeType, ShareConsumer

    s = json.loads(sys.argv[1])
    journal = open(s["journal"], "a", buffering=1)
    c = ShareConsumer({**s["config"], "group.id": s["group"], "client.id": s["name"],
                       "share.acknowledgement.mode": "explicit", "max.poll.records": 5})
    try:
        c.subscribe([s["topic"]])
        while True:
            for m in c.poll(0.3):
                if not m.error():
                    journal.write(json.dumps({"t": time.time(), "offset": m.offset()}) + "\\n")
                    c.acknowledge(m, AcknowledgeType.ACCEPT)
    finally:
        c.close()
''')


# -- without a cluster ------------------------------------------------------------------------
def test_members_table_is_parsed_with_an_empty_assignment() -> None:
    df = shares._table(MEMBERS_OUT)
    assert df["client_id"].tolist() == ["w0", "w1"]
    assert df["assignment"].tolist() == ["t.a:0,t.b:1", ""]
    assert list(df.columns) == ["group", "consumer_id", "host", "client_id", "partitions",
                                "member_epoch", "assignment"]


def test_offsets_table_and_no_table() -> None:
    df = shares._table(OFFSETS_OUT)
    assert df["start_offset"].tolist() == ["3", "-"] and df["lag"].tolist() == ["0", "-"]
    assert shares._table("\nShare group 'x' has no active members.\n").empty


def test_configure_refuses_unknown_settings() -> None:
    with pytest.raises(UsageError, match="delivery_count_limit"):
        shares.configure("t.g", lock_ms=1)
    with pytest.raises(UsageError):
        shares.configure("t.g")


def test_handled_by_counts_each_members_journal(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    folder = tmp_path / "members" / "g"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"offset": 1}\n{"acquired": [2]}\n{"offset": 2}\n')
    (folder / "b.jsonl").write_text('{"offset": 3}\n{"offs')  # a cut last line
    assert shares.handled_by("g") == {"a": 2, "b": 1}
    with (folder / "b.jsonl").open("a") as f:
        f.write('et": 4}\n')
    assert shares.handled_by("g") == {"a": 2, "b": 2}


# -- against the cluster ----------------------------------------------------------------------
@pytest.fixture()
def group() -> str:
    return f"test.shares.{uuid.uuid4().hex[:8]}"


def test_share_groups_are_on(cluster: labkit.Cluster) -> None:
    assert shares.require_share_groups(cluster) >= 1
    assert shares.feature_level("no.such.feature", cluster=cluster) == 0


def test_settings_are_set_bounded_by_the_broker_and_forgotten(cluster: labkit.Cluster,
                                                              group: str) -> None:
    lowest = int(shares.broker_setting("group.share.min.record.lock.duration.ms",
                                       cluster=cluster))
    now = shares.configure(group, cluster=cluster, auto_offset_reset="earliest",
                           delivery_count_limit=3, record_lock_duration_ms=lowest)
    assert now["share.auto.offset.reset"] == "earliest"
    assert now["share.delivery.count.limit"] == "3"
    assert now["share.record.lock.duration.ms"] == str(lowest)
    assert sharecheck.group_settings(group, {"share.delivery.count.limit": 3}, cluster=cluster)
    assert not sharecheck.group_settings(group, {"share.delivery.count.limit": 2},
                                         cluster=cluster)
    with pytest.raises(UsageError, match="must be in the range"):  # below the broker's minimum
        shares.configure(group, cluster=cluster, record_lock_duration_ms=max(1, lowest // 2))
    shares.reset(group, also=[group], cluster=cluster)  # never had a member: not listed
    assert shares.group_config(group, cluster=cluster)["share.auto.offset.reset"] == "latest"
    with pytest.raises(UsageError, match="broker"):
        shares.broker_setting("no.such.setting", cluster=cluster)


def test_members_share_one_partition_and_the_group_drains(
        cluster: labkit.Cluster, group: str, tmp_path: Path) -> None:
    topic = cluster.fresh_topic(f"{group}.jobs", partitions=1)
    shares.configure(group, cluster=cluster, auto_offset_reset="earliest")
    program = tmp_path / "share.py"
    program.write_text(PROGRAM)
    assert not sharecheck.drained(group, topic, cluster=cluster)  # not started
    running = [members.start(program, n, group=group, topic=topic, cluster=cluster)
               for n in ("s1", "s2")]
    try:
        df = shares.wait_for_members(group, topic, ["s1", "s2"], cluster=cluster, timeout=60)
        assert sorted(df["client_id"]) == ["s1", "s2"]
        assert all(a == [(topic, 0)] for a in df["assignment"])  # both on the one partition
        p = Producer(cluster.config())
        for i in range(40):
            p.produce(topic, value=json.dumps(i))
        assert p.flush(10) == 0
        cluster.wait_for("40 records handled",
                         lambda: sum(shares.handled_by(group).values()) >= 40, timeout=60)
        assert sharecheck.drained(group, topic, cluster=cluster)
        assert shares.list_groups(cluster=cluster).count(group) == 1
        assert group in shares.delete([group], cluster=cluster, settings=False)  # members
    finally:
        for m in running:
            m.stop()
    state = shares.describe(group, cluster=cluster)
    assert state["lag"].tolist() == [0] and state["topic"].tolist() == [topic]
    assert shares.reset(group, cluster=cluster) == {}
    assert group not in shares.list_groups(cluster=cluster)
    assert shares.members(group, cluster=cluster).empty
    labkit.kafka.delete_topics(cluster, [topic])


def test_wait_for_members_needs_names(cluster: labkit.Cluster, group: str) -> None:
    topic = cluster.fresh_topic(f"{group}.jobs", partitions=1)
    try:
        with pytest.raises(UsageError):
            shares.wait_for_members(group, topic, [], cluster=cluster)
        started = time.monotonic()
        with pytest.raises(labkit.exceptions.ClusterTimeoutError, match="nobody"):
            shares.wait_for_members(group, topic, ["nobody"], cluster=cluster, timeout=1)
        assert time.monotonic() - started < 30
    finally:
        labkit.kafka.delete_topics(cluster, [topic])
