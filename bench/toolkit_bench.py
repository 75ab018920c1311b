"""Toolkit figures, side by side in one run, on the shared lab cluster (unique topics, deleted
after): plain confluent-kafka produce loop vs ``labkit.produce`` at full speed (target >= 0.80);
plain consume loop vs ``labkit.read`` (>= 0.50) and ``labkit.replay`` (>= 0.90) over the
same topic; 1,000,000 small events replayed into a dict (<= 5 s).

    PYTHONPATH=. python bench/toolkit_bench.py [RECORDS_PER_PRODUCE_RUN]

Both producers use the same config (idempotent, acks=all, linger.ms=5) and the same
pre-encoded pizza-shop records (CloudEvents binary mode: ~105-byte JSON value, 7 headers).
Runs alternate (plain, labkit, plain, labkit...) so a busy machine hurts both alike; the
produce runs fill the topic that the consume comparison then reads; the 1M replay topic is
pre-filled by the plain loop (the fastest path).
"""

from __future__ import annotations

import gc
import sys
import time
import uuid
from typing import Any

import labkit
from labkit.codec import EncodedRecord
from labkit.kafka import delete_topics
from labkit.producer import produce
from labkit.reader import read, replay
from labkit.scenarios import get_scenario

TARGETS = {"produce_ratio": 0.80, "read_ratio": 0.50, "replay_ratio": 0.90, "replay_1m_s": 5.0,
           "chart_ratio": 0.90}
PRODUCER = {"enable.idempotence": True, "acks": "all", "linger.ms": 5}


def records(n: int, *, distinct: int = 20_000, seed: int = 1) -> list[EncodedRecord]:
    """``n`` pre-encoded records: ``distinct`` scenario records, repeated."""
    base = [e.record for e in get_scenario("pizza", seed=seed, limit=distinct)]
    return [base[i % len(base)] for i in range(n)]


def plain_produce(cluster: labkit.Cluster, topic: str, recs: list[EncodedRecord]) -> float:
    from confluent_kafka import Producer

    p = Producer(cluster.config(**PRODUCER))
    t0 = time.perf_counter()
    for r in recs:
        while True:
            try:
                p.produce(topic, r.value, r.key, headers=r.headers)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(120)
    took = time.perf_counter() - t0
    assert left == 0, f"{left} records not delivered"
    return took


def labkit_produce(cluster: labkit.Cluster, topic: str, recs: list[EncodedRecord]) -> float:
    t0 = time.perf_counter()
    h = produce(recs, topic, cluster=cluster, extra_config=dict(PRODUCER))
    if not h.wait(300):
        h.stop()
        raise RuntimeError(f"labkit.produce did not finish: {h.summary()}")
    took = time.perf_counter() - t0
    h.raise_for_errors()
    assert h.acked == len(recs), h.summary()
    return took


def plain_consume(cluster: labkit.Cluster, topic: str, n: int) -> float:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(cluster.config(group_id=f"bench-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False))
    parts = cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions
    gc.disable()  # as labkit's reader does: the comparison is of the loops, not of the GC
    t0 = time.perf_counter()
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    seen = 0
    deadline = time.monotonic() + 300
    while seen < n and time.monotonic() < deadline:
        for m in c.consume(min(10_000, n - seen), 1.0):
            if m.error() is None:
                m.value()
                seen += 1
    took = time.perf_counter() - t0
    gc.enable()
    c.close()
    assert seen == n, f"plain consume saw {seen} of {n}"
    return took


def produce_with_chart(cluster: labkit.Cluster, topic: str, recs: list[EncodedRecord]) -> float:
    """labkit.produce at full speed while a throughput LiveChart samples and draws a PNG twice a
    second in this thread, as a notebook cell does (the PNG is made, just not displayed): live
    frames at 1x, three marks as a lesson makes them (one a second from the 2nd second), the
    last frame at HiDPI once the producer is done."""
    from labkit.lab.charts import throughput

    chart = throughput(topic, cluster=cluster)
    t0 = time.perf_counter()
    handle = produce(recs, topic, cluster=cluster)
    frames = 0
    while not handle.wait(0.5):
        elapsed = time.perf_counter() - t0
        chart._sample(elapsed, time.time())
        if frames in (2, 4, 6):
            chart.mark(f"mark {frames}", at=elapsed)
        chart.png(scale=1.0)
        frames += 1
    took = time.perf_counter() - t0  # the producer is done: the final frame costs it nothing
    chart.png()
    handle.raise_for_errors()
    assert frames > 0
    return took


def fold(state: dict[str, str], event: Any) -> dict[str, str]:
    state[event.key] = event.type
    return state


def _line(label: str, n: int, took: float, base: float | None = None,
          target: float | None = None) -> None:
    ratio = "" if base is None else f"  ratio {base / took:4.2f} (target >= {target:.2f})"
    print(f"  {label:<34} {n / took:>10,.0f} events/s  {took:6.2f} s{ratio}", flush=True)


def run(per_run: int = 40_000, *, rounds: int = 5, replay_n: int = 1_000_000) -> dict[str, float]:
    """Print the figures; return them (events/s, ratios, seconds). Each comparison figure is
    the best of its runs (noise on a shared machine only ever adds time)."""
    import pandas  # noqa: F401  (imported once, as in a notebook, not timed in read)

    cluster = labkit.connect()
    recs = records(per_run)
    topic = f"bench-toolkit-{uuid.uuid4().hex[:8]}"
    big = f"{topic}-1m"
    cluster.fresh_topic(topic, partitions=3)
    out: dict[str, float] = {}
    try:
        print(f"== produce: {per_run:,} pre-encoded records per run, {rounds} rounds, "
              "alternating ==", flush=True)
        plain_t, labkit_t = [], []
        for _ in range(rounds):
            plain_t.append(plain_produce(cluster, topic, recs))
            labkit_t.append(labkit_produce(cluster, topic, recs))
        _line("plain confluent-kafka loop", per_run, min(plain_t))
        _line("labkit.produce (full speed)", per_run, min(labkit_t), min(plain_t),
              TARGETS["produce_ratio"])
        print("    runs (s): plain " + ", ".join(f"{t:.2f}" for t in plain_t)
              + "; labkit " + ", ".join(f"{t:.2f}" for t in labkit_t), flush=True)
        out.update(plain_produce=per_run / min(plain_t), labkit_produce=per_run / min(labkit_t),
                   produce_ratio=min(plain_t) / min(labkit_t))
        longer = recs * 4  # a few seconds of producing: several chart frames
        bare, charted = [], []
        for _ in range(3):
            bare.append(labkit_produce(cluster, topic, longer))
            charted.append(produce_with_chart(cluster, topic, longer))
        _line("labkit.produce, longer run", len(longer), min(bare))
        _line("labkit.produce + LiveChart at 2 Hz", len(longer), min(charted), min(bare),
              TARGETS["chart_ratio"])
        out["chart_ratio"] = min(bare) / min(charted)

        size = 2 * rounds * per_run + 6 * len(longer)
        print(f"== consume: that topic, {size:,} records, 3 partitions ==", flush=True)
        bases, replays, reads = [], [], []
        for _ in range(2):
            bases.append(plain_consume(cluster, topic, size))
            t0 = time.perf_counter()
            state = replay(topic, fold, {}, cluster=cluster)
            replays.append(time.perf_counter() - t0)
            assert len(state) > 0
            t0 = time.perf_counter()
            df = read(topic, cluster=cluster, timeout=600)
            reads.append(time.perf_counter() - t0)
            assert len(df) == size, (len(df), size)
            del df
        base, replay_t, read_t = min(bases), min(replays), min(reads)
        _line("plain confluent-kafka consume loop", size, base)
        _line("labkit.replay (dict of last types)", size, replay_t, base, TARGETS["replay_ratio"])
        _line("labkit.read (DataFrame)", size, read_t, base, TARGETS["read_ratio"])
        print("    runs (s): plain " + ", ".join(f"{t:.2f}" for t in bases)
              + "; replay " + ", ".join(f"{t:.2f}" for t in replays)
              + "; read " + ", ".join(f"{t:.2f}" for t in reads), flush=True)
        out.update(plain_consume=size / base, replay=size / replay_t, read=size / read_t,
                   replay_ratio=base / replay_t, read_ratio=base / read_t)

        print(f"== replay: {replay_n:,} small events (pre-filled by the plain loop) ==",
              flush=True)
        cluster.fresh_topic(big, partitions=3)
        fill = [recs[i % len(recs)] for i in range(replay_n)]
        plain_produce(cluster, big, fill)
        del fill
        base = plain_consume(cluster, big, replay_n)
        t0 = time.perf_counter()
        replay(big, fold, {}, cluster=cluster, timeout=600)
        took = time.perf_counter() - t0
        _line("plain confluent-kafka consume loop", replay_n, base)
        _line("labkit.replay", replay_n, took, base, TARGETS["replay_ratio"])
        out["replay_1m_s"] = took * 1_000_000 / replay_n
        print(f"  1,000,000 small events replayed: {out['replay_1m_s']:.2f} s "
              f"(target <= {TARGETS['replay_1m_s']:.0f} s)", flush=True)
    finally:
        existing = cluster.admin().list_topics(timeout=10).topics
        delete_topics(cluster, [t for t in (topic, big) if t in existing], timeout=60)
        if cluster.started_here:  # leave the machine as we found it
            cluster.down()
    return out


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000)
