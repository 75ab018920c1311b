"""labkit.members: group members as processes of their own, running a program of the
student's. Unit tests on journals and errors; the rest against the real cluster."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

import labkit
from labkit import members
from labkit.exceptions import ClusterTimeoutError, ServiceError, StateError, UsageError

PROGRAM = textwrap.dedent('''
    import json, sys, time
    from confluent_kafka import Consumer

    s = json.loads(sys.argv[1])
    journal = open(s["journal"], "a", buffering=1)
    def note(**f):
        journal.write(json.dumps({"t": time.time(), **f}) + "\\n")
    c = Consumer({**s["config"], "group.id": s["group"], "client.id": s["name"],
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  **s.get("client", {})})
    try:
        c.subscribe([s["topic"]], on_assign=lambda cc, ps: note(assigned=[p.partition for p in ps]))
        while True:
            m = c.poll(0.2)
            if m is not None and not m.error():
                note(partition=m.partition(), offset=m.offset())
                c.commit(m, asynchronous=False)
    finally:
        note(closed=True)
        c.close()
''')


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    return tmp_path


def _write(home: Path, group: str, name: str, rows: list[object], tail: str = "") -> Path:
    path = home / "members" / group / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)
    return path


# -- journals, without a cluster ------------------------------------------------------------------
def test_journal_merges_members_in_time_order_and_skips_a_cut_last_line(home: Path) -> None:
    _write(home, "g", "a", [{"t": 1, "partition": 0, "offset": 0}, {"t": 3, "assigned": [0]}],
           tail='{"t": 4, "offs')  # a member killed mid-write
    _write(home, "g", "b", [{"t": 2, "partition": 1, "offset": 0}])
    df = members.journal("g")
    assert df["member"].tolist() == ["a", "b", "a"] and df["t"].tolist() == [1, 2, 3]


def test_handled_counts_only_new_whole_lines_and_notices_a_fresh_journal(home: Path) -> None:
    path = _write(home, "g", "a", [{"t": 1, "offset": 0}, {"t": 2, "assigned": []}],
                  tail='{"t": 3, "offset"')
    assert members.handled("g") == 1
    with path.open("a") as f:
        f.write(': 1}\n{"t": 4, "offset": 2}\n')
    assert members.handled("g") == 3
    path.write_text('{"t": 5, "offset": 0}\n')  # started afresh: counted again
    assert members.handled("g") == 1


def test_wait_handled_by_counts_only_the_named_members(home: Path) -> None:
    _write(home, "g", "victim", [{"t": 1, "partition": 0, "offset": 9}])
    path = _write(home, "g", "survivor", [{"t": 2, "partition": 0, "offset": 4}])
    members.wait_handled("g", {0: 10}, timeout=1)  # the group as a whole got there
    with pytest.raises(ClusterTimeoutError, match="survivor"):
        members.wait_handled("g", {0: 10}, by=["survivor"], timeout=0.5)
    with path.open("a") as f:
        f.write(json.dumps({"t": 3, "partition": 0, "offset": 9}) + "\n")
    members.wait_handled("g", {0: 10}, by=["survivor"], timeout=1)


def test_an_empty_group_has_an_empty_journal(home: Path) -> None:
    assert members.journal("nobody").empty and members.handled("nobody") == 0


def test_clear_deletes_the_journals_of_groups_with_the_prefix(home: Path) -> None:
    _write(home, "lesson05.a", "m", [{"t": 1}])
    _write(home, "other", "m", [{"t": 1}])
    assert members.clear("lesson05.") == ["lesson05.a"]
    assert not (home / "members" / "lesson05.a").exists() and (home / "members" / "other").exists()


def test_a_missing_program_is_a_usage_error(home: Path) -> None:
    with pytest.raises(UsageError, match="does not exist; write it first"):
        members.Member(home / "nope.py", "m", group="g", topic="t")


def test_killing_a_member_that_never_ran_is_a_state_error(home: Path) -> None:
    program = home / "m.py"
    program.write_text("")
    with pytest.raises(StateError, match="not running"):
        members.Member(program, "m", group="g", topic="t").kill()


# -- against the cluster --------------------------------------------------------------------------
def _program(tmp_path: Path, text: str = PROGRAM) -> Path:
    path = tmp_path / "member.py"
    path.write_text(text)
    return path


def test_members_share_partitions_then_a_kill_hands_them_over(
        cluster: labkit.Cluster, topic: str, tmp_path: Path) -> None:
    cluster.fresh_topic(topic, partitions=2)
    group = f"{topic}-g"
    program = _program(tmp_path)
    quick = {"group.protocol": "consumer"}
    a = members.start(program, "a", group=group, topic=topic, cluster=cluster, client=quick)
    b = members.start(program, "b", group=group, topic=topic, cluster=cluster, client=quick)
    try:
        d = members.wait_for_members(group, topic, 2, cluster=cluster)
        assert sorted(len(m.assignment.topic_partitions) for m in d.members) == [1, 1]
        b.kill()  # no close(): the group waits for the session to expire (6 s in the lab)
        assert not b.alive
        d = members.wait_for_members(group, topic, 1, cluster=cluster, timeout=30)
        assert [m.client_id for m in d.members] == ["a"]
        labkit.produce_all(labkit.get_scenario("pizza", seed=1, limit=20), topic,
                           cluster=cluster, progress=False)
        members.wait_handled(group, labkit.kafka.offsets(cluster, topic), timeout=30)
    finally:
        members.stop_all(group)
    assert not a.alive
    df = members.journal(group)
    assert df[df["member"] == "a"]["closed"].notna().any()  # stop() ran its finally
    assert "closed" not in b.journal()  # SIGKILL: no finally


def test_a_failing_program_says_why(cluster: labkit.Cluster, topic: str,
                                    tmp_path: Path) -> None:
    cluster.fresh_topic(topic, partitions=1)
    program = _program(tmp_path, "raise SystemExit('no such handler: bake_pizza')\n")
    m = members.start(program, "broken", group=f"{topic}-g", topic=topic, cluster=cluster)
    deadline = time.monotonic() + 30
    while m.alive and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(ServiceError, match=r"exited with code 1.*no such handler: bake_pizza"):
        m.raise_for_errors()


def test_an_unknown_topic_fails_before_a_process_starts(cluster: labkit.Cluster,
                                                        tmp_path: Path) -> None:
    from labkit.exceptions import UnknownTopicError

    with pytest.raises(UnknownTopicError):
        members.start(_program(tmp_path), "m", group="g-none", topic="no-such-topic-xyz",
                      cluster=cluster)


def test_the_lab_cluster_has_quick_groups(cluster: labkit.Cluster) -> None:
    members.require_quick_groups(cluster)  # the lab's broker settings are in force
    from labkit.kafka.groups import group_settings

    assert group_settings(cluster)["group.consumer.session.timeout.ms"] == 6000
