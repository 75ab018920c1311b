"""labkit.produce / produce_all and ``labkit produce`` against the real lab cluster."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import labkit
from labkit.exceptions import UnknownTopicError, UsageError
from labkit.kafka import offsets as kafka_offsets
from labkit.producer import ProduceError, produce, produce_all
from labkit.reader import read
from labkit.scenarios import get_scenario
from tests.conftest import assert_one_line_error, run_cli


def _until(what: str, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_rate_is_accurate(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    rate, seconds = 200, 3.0
    h = produce("pizza", topic, rate=rate, seconds=seconds, cluster=cluster)
    assert h.wait(60)
    h.raise_for_errors()
    assert h.sent <= rate * seconds + 2, h.summary()
    assert h.elapsed >= seconds, h.summary()  # it ran for its seconds, on its own clock
    df = read(topic, cluster=cluster)
    assert len(df) == h.acked == h.sent
    # The records' own timestamps (stamped as each is produced) are the producer's clock:
    # never ahead of the schedule (k records need (k - 1) / rate seconds), and as many as the
    # rate gives over their span (after a stall the producer catches up, so a loaded machine
    # delays records but does not lose them). The schedule starts a moment before the first
    # record's stamp (a slow first record is caught up at once): 0.1 s of slack for that, far
    # below what a producer without a rate limit sends.
    ts = df["timestamp"].sort_values()
    since = [(t - ts.iloc[0]).total_seconds() for t in ts]
    ahead = [(k, s) for k, s in enumerate(since, 1) if k > rate * (s + 0.1) + 2]
    assert not ahead, ahead[:5]
    span = since[-1]
    assert span <= seconds + 0.5, span
    assert h.sent >= 0.9 * rate * span, (h.sent, span)
    assert h.sent >= 0.5 * rate * seconds, h.summary()  # not a fraction of the run


def test_rate_can_change_while_running(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    with produce("pizza-orders", topic, rate=50, cluster=cluster) as h:
        _until("50 records", lambda: h.sent >= 50)
        e0, n0 = h.elapsed, h.sent  # on the handle's clock, taken before the change
        h.rate = 400
        _until("400 more records", lambda: h.sent >= n0 + 400, timeout=60)
        took = h.elapsed - e0
    # The scheduler never sends a record before it is due, and catches up after a stall: 400
    # records take at least ~1 s at 400/s (a burst of records due at 50/s before the change
    # is seen takes at most a few), and at 50/s they would take 8 s however idle the machine.
    assert 0.75 <= took < 7.0, took
    assert not h.running and h.failed == 0
    assert h.acked == h.sent == len(read(topic, cluster=cluster))


def test_pause_resume_stop(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    h = produce(get_scenario("pizza", seed=5, limit=None), topic, rate=300, cluster=cluster)
    try:
        _until("30 records", lambda: h.sent >= 30)
        h.pause()
        assert h.paused
        _until("every record in flight acked", lambda: h.acked == h.sent)
        paused_at, bytes_at, since = h.sent, h.bytes, h.elapsed
        # half a second on the handle's clock (150 records at 300/s): the counters stay put
        _until("0.5 s paused", lambda: h.elapsed >= since + 0.5)
        assert (h.sent, h.bytes) == (paused_at, bytes_at)
        assert h.running and h.paused  # paused, not finished
        h.resume()
        _until("sending again", lambda: h.sent > paused_at + 30)
    finally:
        h.stop()
    assert not h.running
    assert h.wait(0.1)
    end = h.sent
    assert h.stop() is h and h.sent == end  # idempotent
    assert h.sent == h.acked + h.failed and h.failed == 0 and h.errors == []
    assert len(read(topic, cluster=cluster)) == h.acked


def test_counters_match_what_read_finds(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    scenario = get_scenario("pizza", seed=11, limit=700)
    h = produce_all(scenario, topic, cluster=cluster, progress=False)
    records = [e.record for e in scenario]
    assert (h.sent, h.acked, h.failed) == (700, 700, 0)
    assert h.bytes == sum(len(r.key) + len(r.value) for r in records)
    raw = read(topic, cluster=cluster, decode=False)
    assert sorted(raw["value"]) == sorted(r.value for r in records)
    assert Counter(read(topic, cluster=cluster)["type"]) == Counter(e.type for e in scenario)


def test_limit_and_other_sources(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    events = [e.event for e in get_scenario("pizza-orders", seed=2, limit=30)]
    h = produce(events, topic, limit=20, cluster=cluster)  # event models, encoded on the fly
    assert h.wait(60) and h.sent == h.acked == 20
    h = produce([(b"k", b'{"x": 1}')], topic, cluster=cluster)  # (key, value) tuples
    assert h.wait(60) and h.acked == 1
    raw = read(topic, cluster=cluster, decode=False)
    assert list(raw["key"])[-1] == b"k" and len(raw) == 21


def test_producer_is_idempotent(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    h = produce_all(get_scenario("pizza", limit=20), topic, cluster=cluster, progress=False)
    assert h.config["enable.idempotence"] is True and h.config["acks"] == "all"
    # the broker's own view: the batches carry a producer id (idempotent producers only)
    node = next(n for n in cluster.nodes if n.id == cluster.leader(topic, 0))
    if node.directory is None:
        pytest.skip("this backend does not expose the log files")
    log = node.directory / "data" / f"{topic}-0" / "00000000000000000000.log"
    out = cluster.kafka("kafka-dump-log", "--files", str(log)).stdout
    ids = [int(x) for x in re.findall(r"producerId: (-?\d+)", out)]
    sequences = [int(x) for x in re.findall(r"baseSequence: (-?\d+)", out)]
    assert ids and all(i >= 0 for i in ids), out[-500:]  # -1 without idempotence
    assert sequences and all(s >= 0 for s in sequences), out[-500:]


def test_too_large_for_the_topic_is_surfaced(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1, max_message_bytes="200")
    h = produce(get_scenario("pizza", limit=5), topic, cluster=cluster)
    with pytest.raises(ProduceError, match="MSG_SIZE_TOO_LARGE"):  # failures are never silent
        h.wait(60)
    assert (h.sent, h.acked, h.failed) == (5, 0, 5)
    assert len(h.errors) == 5
    assert all(topic in e and "MSG_SIZE_TOO_LARGE" in e and "max.message.bytes" in e
               for e in h.errors)
    with pytest.raises(ProduceError, match=f"topic '{topic}'.*MSG_SIZE_TOO_LARGE.*4 more"):
        h.raise_for_errors()
    with pytest.raises(ProduceError, match="MSG_SIZE_TOO_LARGE"):
        produce_all(get_scenario("pizza", limit=3), topic, cluster=cluster, progress=False)


def test_a_failing_source_is_surfaced(cluster: labkit.Cluster, topic: str) -> None:
    def broken():
        yield from get_scenario("pizza", limit=3)
        raise RuntimeError("the generator broke")

    cluster.fresh_topic(topic, partitions=1)
    h = produce(broken(), topic, cluster=cluster)
    with pytest.raises(ProduceError, match="the generator broke"):
        h.wait(60)
    assert h.acked == 3
    with pytest.raises(ProduceError, match="the generator broke"):
        h.raise_for_errors()


def test_bad_arguments(cluster: labkit.Cluster, topic: str) -> None:
    for kwargs in ({"rate": 0}, {"rate": "fast"}, {"seconds": -1}, {"limit": 2.5}):
        with pytest.raises(UsageError, match="is not valid"):
            produce("pizza", "t", cluster=cluster, **kwargs)
    with pytest.raises(UsageError, match="unknown scenario 'nope'"):
        produce("nope", "t", cluster=cluster)
    with pytest.raises(UsageError, match="needs limit"):
        produce_all("pizza", "t", cluster=cluster)
    with pytest.raises(UnknownTopicError, match="does not exist"):  # checked before sending
        produce("pizza", f"no-such-{topic}", limit=1, cluster=cluster)
    cluster.fresh_topic(topic, partitions=1)
    with pytest.raises(UsageError, match="bad producer config"):
        produce("pizza", topic, limit=1, cluster=cluster, extra_config={"no.such.setting": 1})


def test_bad_items_are_surfaced(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    with pytest.raises(ProduceError, match="cannot produce a int"):
        produce_all([1, 2], topic, cluster=cluster, progress=False)


def test_public_name_stays_the_function_after_a_submodule_import() -> None:
    import labkit
    import labkit.producer

    assert labkit.produce is produce


# -- the command line ---------------------------------------------------------------------------

def test_cli_produce(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=3)
    out = run_cli("produce", "pizza", "--topic", topic, "--rate", "100", "--seconds", "2",
                  "--seed", "3", timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "sent " in out.stdout and "acked " in out.stdout  # the live line(s)
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("done: ") and "failed 0" in summary
    sent = int(summary.split("sent ")[1].split(",")[0])
    assert 170 <= sent <= 202
    df = read(topic, cluster=cluster)
    assert len(df) == sent
    expected = [e.type for e in get_scenario("pizza", seed=3, limit=sent)]
    assert Counter(df["type"]) == Counter(expected)


def test_cli_produce_with_poison(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    out = run_cli("produce", "pizza", "--topic", topic, "--limit", "200", "--poison", "0.2",
                  "--seed", "4", timeout=120)
    assert out.returncode == 0, out.stderr
    raw = read(topic, cluster=cluster, decode=False)
    assert len(raw) == 200
    pills = [e for e in get_scenario("pizza", seed=4, limit=200, poison_fraction=0.2)
             if e.poison]
    assert pills and set(raw["value"]) >= {p.value for p in pills}


def test_cli_ctrl_c_stops_cleanly(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "produce", "pizza", "--topic", topic,
         "--rate", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no progress line within 60 s"
        first = proc.stdout.readline()  # the first progress line: it is producing
        assert first.startswith("sent "), first
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith("stopped: ") and "failed 0" in summary, stdout
    sent = int(summary.split("sent ")[1].split(",")[0])
    assert sent > 0 and len(read(topic, cluster=cluster)) == sent


def test_cli_errors_are_one_line(cluster: labkit.Cluster, topic: str) -> None:
    assert_one_line_error(run_cli("produce", "nope", "--topic", topic), "unknown scenario")
    assert_one_line_error(run_cli("produce", "pizza", "--topic", topic, "--poison", "0.9"),
                          "--poison", "0 to 0.5")
    cluster.fresh_topic(topic, partitions=1, max_message_bytes="200")
    out = run_cli("produce", "pizza", "--topic", topic, "--limit", "3", timeout=120)
    assert_one_line_error(out, topic, "MSG_SIZE_TOO_LARGE")
    assert "failed 3" in out.stdout


def test_a_producer_whose_every_record_fails_stops_by_itself(cluster: labkit.Cluster,
                                                             topic: str) -> None:
    """Every record is too large for the topic: instead of sending into nowhere for its 60 s,
    the producer stops after GIVE_UP failures in a row, and wait() says why."""
    from labkit.producer import GIVE_UP

    cluster.fresh_topic(topic, partitions=1, max_message_bytes="200")
    h = produce("pizza", topic, seconds=60, cluster=cluster)
    with pytest.raises(ProduceError, match=f"MSG_SIZE_TOO_LARGE.*stopped by itself after "
                                           f"{GIVE_UP} failures in a row"):
        h.wait(30)
    assert h.gave_up and not h.running
    assert h.acked == 0 and h.failed == h.sent >= GIVE_UP
    assert h.elapsed < 30  # not the 60 s it was asked for
    assert kafka_offsets(cluster, topic) == {0: 0}  # nothing reached the log


def test_cli_stops_at_once_when_every_record_fails(cluster: labkit.Cluster, topic: str) -> None:
    cluster.fresh_topic(topic, partitions=1, max_message_bytes="200")
    t0 = time.monotonic()
    out = run_cli("produce", "pizza", "--topic", topic, "--seconds", "60", timeout=120)
    assert time.monotonic() - t0 < 30
    assert_one_line_error(out, topic, "MSG_SIZE_TOO_LARGE", "stopped by itself")
