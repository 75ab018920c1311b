"""labkit.read / replay and dead letters against the real lab cluster."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import labkit
from labkit.codec import decode, decode_fast, encode_fast
from labkit.events import PizzaBaked
from labkit.exceptions import DecodeError, UsageError
from labkit.producer import produce, produce_all
from labkit.reader import ReadTimeoutError, UnknownTopicError, read, replay
from labkit.scenarios import get_scenario


@pytest.fixture()
def dlq(cluster: labkit.Cluster, topic: str) -> Iterator[str]:
    """The default dead-letter topic of ``topic``, deleted after the test."""
    name = f"{topic}.dlq"
    yield name
    from labkit.kafka import delete_topics

    if name in cluster.admin().list_topics(timeout=5).topics:
        delete_topics(cluster, [name])


def _fill(cluster: labkit.Cluster, topic: str, n: int, *, partitions: int = 3,
          seed: int = 1, **settings: object) -> list:
    cluster.fresh_topic(topic, partitions=partitions)
    scenario = get_scenario("pizza", seed=seed, limit=n, **settings)
    produce_all(scenario, topic, cluster=cluster, progress=False)
    return list(scenario)


def _ids(df: pd.DataFrame) -> list[str]:
    return [dict(h)["ce_id"].decode() for h in df["headers"]]


def test_read_decodes_every_record(cluster: labkit.Cluster, topic: str) -> None:
    events = _fill(cluster, topic, 300)
    df = read(topic, cluster=cluster)
    assert len(df) == 300 and df.attrs["dead_letters"] == 0
    cols = list(df.columns)
    assert cols[0] == "key"
    assert cols[-6:] == ["type", "time", "partition", "offset", "timestamp", "headers"]
    assert {"order_id", "customer_id", "items", "address", "total"} <= set(cols)
    assert str(df["timestamp"].dt.tz) == "UTC" and str(df["time"].dt.tz) == "UTC"
    assert df["headers"].iloc[0]["ce_type"] == df["type"].iloc[0].encode()
    assert df["item_count"].dtype == "Int64"
    # ordered by partition, then offset; offsets contiguous from 0
    assert list(df["partition"]) == sorted(df["partition"])
    for _, part in df.groupby("partition"):
        assert list(part["offset"]) == list(range(len(part)))
    by_id = {dict(e.headers)["ce_id"].decode(): e for e in events}
    for row, ce_id in zip(df.itertuples(index=False), _ids(df), strict=True):
        e = by_id[ce_id]
        assert row.key == e.key.decode() and row.type == e.type
        assert row.time == pd.Timestamp(e.time)
    baked = df[df["type"] == "pizza.order.baked"].iloc[0]
    event = next(e.event for e in events if e.key.decode() == baked["key"]
                 and e.type == "pizza.order.baked")
    assert baked["oven"] == event.oven and baked["pizzas"] == event.pizzas
    placed = df[df["type"] == "pizza.order.placed"].iloc[0]
    assert isinstance(placed["items"], list) and placed["items"][0]["name"]


def test_read_raw_records(cluster: labkit.Cluster, topic: str) -> None:
    events = _fill(cluster, topic, 50)
    raw = read(topic, cluster=cluster, decode=False, progress=True)
    assert list(raw.columns) == ["key", "value", "partition", "offset", "timestamp", "headers"]
    assert sorted(zip(raw["key"], raw["value"], strict=True)) == sorted(
        (e.key, e.value) for e in events)


def test_start_and_stop_by_offset(cluster: labkit.Cluster, topic: str) -> None:
    _fill(cluster, topic, 100, partitions=1)
    assert list(read(topic, start=10, stop=20, cluster=cluster)["offset"]) == list(range(10, 20))
    assert list(read(topic, start={0: 95}, cluster=cluster)["offset"]) == list(range(95, 100))
    assert list(read(topic, stop={0: 3}, cluster=cluster)["offset"]) == [0, 1, 2]
    assert len(read(topic, start=500, cluster=cluster)) == 0  # past the end: nothing
    assert len(read(topic, start=50, stop=40, cluster=cluster)) == 0
    assert len(read(topic, start="latest", cluster=cluster)) == 0
    assert len(read(topic, stop="earliest", cluster=cluster)) == 0
    assert len(read(topic, partitions=[0], cluster=cluster)) == 100


def test_start_and_stop_by_time(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    produce_all(get_scenario("pizza", seed=1, limit=40), topic, cluster=cluster,
                progress=False)
    middle = datetime.now(UTC)
    deadline = time.monotonic() + 5
    while datetime.now(UTC) - middle < timedelta(milliseconds=2):  # next millisecond
        assert time.monotonic() < deadline
    produce_all(get_scenario("pizza", seed=2, limit=60), topic, cluster=cluster,
                progress=False)
    before = read(topic, stop=middle, cluster=cluster)
    after = read(topic, start=middle, cluster=cluster)
    assert len(before) == 40 and len(after) == 60
    assert before["timestamp"].max() < middle <= after["timestamp"].min()
    future = datetime.now(UTC) + timedelta(hours=1)
    assert len(read(topic, start=future, cluster=cluster)) == 0
    assert len(read(topic, stop=future, cluster=cluster)) == 100


def test_bounded_on_an_empty_topic(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    t0 = time.monotonic()
    df = read(topic, cluster=cluster, timeout=20)
    assert len(df) == 0 and "key" in df.columns and "offset" in df.columns
    assert replay(topic, lambda s, e: s + 1, 0, cluster=cluster, timeout=20) == 0
    assert time.monotonic() - t0 < 20


def test_bounded_while_a_producer_is_writing(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    with produce("pizza", topic, rate=300, cluster=cluster) as h:
        cluster.wait_for("100 acknowledged events", lambda: h.acked >= 100, timeout=30,
                         interval=0.05)
        assert h.running
        acked_before = h.acked
        df = read(topic, cluster=cluster, timeout=30)  # "end" = the log end when called
        assert len(df) >= acked_before
        assert h.running
    assert len(df) <= h.acked


def test_timeout_is_reported(cluster: labkit.Cluster, topic: str) -> None:
    _fill(cluster, topic, 2000, partitions=1)
    with pytest.raises(ReadTimeoutError, match=f"reading '{topic}' partition 0"):
        read(topic, cluster=cluster, timeout=0.001)


def test_bad_arguments(cluster: labkit.Cluster, topic: str) -> None:
    with pytest.raises(UnknownTopicError, match="does not exist"):
        read(f"no-such-topic-{uuid.uuid4().hex[:8]}", cluster=cluster)
    cluster.fresh_topic(topic, partitions=2)
    with pytest.raises(UnknownTopicError, match="has no partition 5"):
        read(topic, partitions=[5], cluster=cluster)
    with pytest.raises(UnknownTopicError, match="has no partition 7"):
        read(topic, start={7: 0}, cluster=cluster)
    for bad in ("beginning", -1, 1.5, True):
        with pytest.raises(UsageError, match="is not valid"):
            read(topic, start=bad, cluster=cluster)
    with pytest.raises(UsageError, match="has no timezone"):
        read(topic, start=datetime(2025, 1, 1), cluster=cluster)
    with pytest.raises(UsageError, match="needs start= and group="):
        read(topic, start="committed", cluster=cluster)
    with pytest.raises(UsageError, match="errors="):
        read(topic, errors="ignore", cluster=cluster)


def test_group_commits_its_offsets(cluster: labkit.Cluster, topic: str) -> None:
    from labkit.kafka import committed as kafka_committed
    from labkit.kafka import delete_groups

    group = f"test-group-{uuid.uuid4().hex[:8]}"
    _fill(cluster, topic, 90)

    def committed() -> dict[int, int]:
        return {p: o for (_t, p), o in kafka_committed(cluster, group, [topic]).items()}

    try:
        assert len(read(topic, cluster=cluster)) == 90
        assert committed() == {}  # without group=: nothing committed
        assert len(read(topic, group=group, stop={0: 5}, cluster=cluster)) > 5
        first = committed()
        assert first[0] == 5
        df = read(topic, group=group, start="committed", cluster=cluster)
        ends = committed()
        assert len(df) == 90 - sum(first.values())
        assert sum(ends.values()) == 90
        produce_all(get_scenario("pizza", seed=9, limit=30), topic, cluster=cluster,
                    progress=False)
        assert len(read(topic, group=group, start="committed", cluster=cluster)) == 30
        assert sum(committed().values()) == 120
    finally:
        delete_groups(cluster, [group])


def test_replay_equals_folding_in_memory(cluster: labkit.Cluster, topic: str) -> None:
    events = _fill(cluster, topic, 500, seed=21)

    def fold(state: dict[str, list[str]], event) -> dict[str, list[str]]:
        state.setdefault(event.key, []).append(event.type)
        return state

    expected: dict[str, list[str]] = {}
    for e in events:
        expected.setdefault(e.key.decode(), []).append(e.type)
    assert replay(topic, fold, {}, cluster=cluster) == expected

    seen: list[str] = []
    replay(topic, lambda s, e: s, None, cluster=cluster,
           on_state=lambda s, e: seen.append(e.id))
    assert seen == _ids(read(topic, cluster=cluster))  # partition by partition, in offset order


def test_replay_until(cluster: labkit.Cluster, topic: str) -> None:
    _fill(cluster, topic, 60, partitions=1)
    count = lambda s, e: s + 1  # noqa: E731
    assert replay(topic, count, 0, until=25, cluster=cluster) == 25
    assert replay(topic, count, 0, until={0: 7}, cluster=cluster) == 7
    cut = read(topic, start=40, stop=41, cluster=cluster)["timestamp"].iloc[0].to_pydatetime()
    n = replay(topic, count, 0, until=cut, cluster=cluster)
    assert n == int((read(topic, cluster=cluster)["timestamp"] < cut).sum())
    assert replay(topic, count, 0, until=10_000, cluster=cluster) == 60


def _poisoned(cluster: labkit.Cluster, topic: str) -> tuple[list, list]:
    events = _fill(cluster, topic, 300, partitions=2, seed=8, poison_fraction=0.1)
    rejected = []
    for e in events:
        try:
            decode_fast(e.value, e.headers, e.key)
        except DecodeError:
            rejected.append(e)
    assert rejected and any(e.poison == "bad-data" for e in events)
    return events, rejected


def test_bad_records_raise_with_where(cluster: labkit.Cluster, topic: str) -> None:
    _poisoned(cluster, topic)
    with pytest.raises(DecodeError, match=rf"^{topic}\[(\d)\]@(\d+): ") as info:
        read(topic, cluster=cluster)
    where = str(info.value).split(":")[0]
    p, offset = int(where.split("[")[1][0]), int(where.split("@")[1])
    raw = read(topic, partitions=[p], start=offset, stop=offset + 1, decode=False,
               cluster=cluster).iloc[0]
    with pytest.raises(DecodeError):
        decode_fast(raw["value"], raw["headers"])
    assert "skip_to_dead_letter" in str(info.value)
    with pytest.raises(DecodeError, match=rf"^{topic}\[\d\]@\d+: "):
        replay(topic, lambda s, e: s, None, cluster=cluster)


def test_bad_records_go_to_the_dead_letter_topic(cluster: labkit.Cluster, topic: str,
                                                 dlq: str) -> None:
    events, rejected = _poisoned(cluster, topic)
    df = read(topic, errors="skip_to_dead_letter", cluster=cluster)
    assert df.attrs["dead_letters"] == len(rejected) and df.attrs["dead_letter_topic"] == dlq
    assert len(df) == len(events) - len(rejected)  # nothing silently dropped
    letters = read(dlq, decode=False, cluster=cluster)
    assert sorted(letters["value"]) == sorted(e.value for e in rejected)
    source = read(topic, decode=False, cluster=cluster)
    for letter in letters.itertuples(index=False):
        h = dict(letter.headers)
        assert h["labkit.source.topic"].decode() == topic
        p, o = int(h["labkit.source.partition"]), int(h["labkit.source.offset"])
        original = source[(source["partition"] == p) & (source["offset"] == o)].iloc[0]
        assert original["value"] == letter.value and original["key"] == letter.key
        assert original["timestamp"] == letter.timestamp
        assert h["labkit.error"].decode()  # the reason, one line
        assert "\n" not in h["labkit.error"].decode()
    reasons = [dict(h)["labkit.error"].decode() for h in letters["headers"]]
    assert any("unknown event type" in r for r in reasons)
    assert any("not valid JSON" in r for r in reasons)

    # validate=True also catches the data that does not fit its model
    strict = read(topic, errors="skip_to_dead_letter", validate=True,
                  dead_letter_topic=f"{dlq}2", cluster=cluster)
    bad_data = sum(e.poison == "bad-data" for e in events)
    assert strict.attrs["dead_letters"] == len(rejected) + bad_data
    assert len(strict) == len(events) - len(rejected) - bad_data
    from labkit.kafka import delete_topics

    delete_topics(cluster, [f"{dlq}2"])


def test_replay_routes_dead_letters(cluster: labkit.Cluster, topic: str, dlq: str) -> None:
    events, rejected = _poisoned(cluster, topic)
    n = replay(topic, lambda s, e: s + 1, 0, errors="dead_letter", cluster=cluster)
    assert n == len(events) - len(rejected)
    assert len(read(dlq, decode=False, cluster=cluster)) == len(rejected)


def test_malformed_bytes_and_unknown_type(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    good = encode_fast(PizzaBaked(order_id="ord-000001", pizzas=2, oven=1))
    unknown = [(n, b"pizza.pasta.cooked" if n == "ce_type" else v) for n, v in good.headers]
    records = [(good.key, good.value, good.headers), (good.key, b"\xff\xfe{", good.headers),
               (good.key, good.value, unknown)]
    produce_all(records, topic, cluster=cluster, progress=False)
    with pytest.raises(DecodeError, match=rf"^{topic}\[0\]@1: value is not valid JSON"):
        read(topic, cluster=cluster)
    with pytest.raises(DecodeError, match=rf"^{topic}\[0\]@2: unknown event type"):
        read(topic, start=2, cluster=cluster)
    assert decode(good.value, good.headers).model() == PizzaBaked(
        order_id="ord-000001", pizzas=2, oven=1)
    assert len(read(topic, stop=1, cluster=cluster)) == 1


def test_dead_letter_topic_cannot_be_the_source(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    with pytest.raises(UsageError, match="cannot be"):
        read(topic, errors="skip_to_dead_letter", dead_letter_topic=topic, cluster=cluster)


def test_public_name_stays_the_function_after_a_submodule_import() -> None:
    import labkit
    import labkit.reader

    assert labkit.read is read


def test_tombstones_are_read_and_replayed(cluster: labkit.Cluster, topic: str) -> None:
    """A null value (a deletion) is a row with ``tombstone`` True and empty data fields, and
    reaches a fold as an event named "Tombstone"; it is never a bad record."""
    events = _fill(cluster, topic, 20, partitions=1)
    from tests.conftest import produce_records

    gone = events[3].key
    produce_records(cluster, topic, [{"key": gone, "value": None},
                                     {"key": b"bare", "value": None, "headers": None}])
    df = read(topic, cluster=cluster, validate=True)
    assert len(df) == 22 and df.attrs["dead_letters"] == 0
    assert list(df["tombstone"]) == [False] * 20 + [True, True]
    assert list(df.columns[-7:-6]) == ["tombstone"]
    last = df.iloc[-2]
    assert last["key"] == gone.decode() and pd.isna(last["customer_id"])

    def fold(state: dict, event: object) -> dict:
        if event.tombstone:  # type: ignore[attr-defined]
            state.pop(event.key, None)  # type: ignore[attr-defined]
        else:
            state[event.key] = event.name  # type: ignore[attr-defined]
        return state

    state = replay(topic, fold, {}, cluster=cluster)
    assert gone.decode() not in state and "bare" not in state
    assert set(state) == {e.key.decode() for e in events} - {gone.decode()}


@pytest.mark.parametrize("raw", [
    [], [b"cust-00001", b"ord-000002", b""], [b"a\xe2\x82", b"\xff", "é".encode(), b"z\xe2"],
    [b"a\x00b", b"c"], [None, b"x"], [b"\xf0\x9f\x8d\x95", b"\xf0\x9f"]])
def test_texts_decode_a_column_as_each_value_alone(raw: list[bytes | None]) -> None:
    from labkit.reader import _texts

    assert _texts(raw) == [None if b is None else b.decode("utf-8", "replace") for b in raw]
