"""Speed figures side by side in one run, each printed with its target and a ratio:

* scenario generation (made AND encoded, CloudEvents binary mode) per scenario, on one core
  (CPU seconds of this process), beside the model path (``events(check=True)``, the old way);
* ``labkit.produce("pizza", topic, limit=N)`` (generation included) vs a plain
  confluent-kafka loop re-sending the same records materialised beforehand (same config);
* ``produce_all`` of 1,000,000 events with its progress bar;
* the replay ceiling: Kafka's ``kafka-consumer-perf-test`` and a tuned plain loop, beside
  ``labkit.replay`` into a dict (and the same replay written by hand: what labkit adds), and
  ``labkit.read`` into a DataFrame.

    PYTHONPATH=. python bench/speed_bench.py [gen|produce|replay|all]
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
from toolkit_bench import PRODUCER, plain_produce

import labkit
from labkit.kafka import delete_topics
from labkit.producer import produce, produce_all
from labkit.reader import read, replay
from labkit.scenarios import get_scenario, scenario_names

TARGETS = {"gen_per_s": 200_000, "produce_ratio": 0.80, "replay_1m_s": 5.0,
           "replay_ratio": 0.90, "read_ratio": 0.50, "produce_all_1m_s": 10.0}


def _say(text: str) -> None:
    print(text, flush=True)


def generation(n: int = 100_000) -> dict[str, float]:
    """Events/s on one core (CPU time): the fast path and the model path, per scenario."""
    out = {}
    _say(f"== generation: {n:,} events made and encoded per scenario, CPU time of one core ==")
    for name in scenario_names():
        fast = []
        for _ in range(2):
            t0 = time.process_time()
            for e in get_scenario(name, seed=1, limit=n):
                e.record  # noqa: B018
            fast.append(time.process_time() - t0)
            if fast[-1] > 5:  # a filtered scenario: once is enough
                break
        bare = []
        for _ in range(2 if fast[-1] <= 5 else 0):  # records(): what labkit.produce sends
            t0 = time.process_time()
            for _r in get_scenario(name, seed=1, limit=n).records():
                pass
            bare.append(time.process_time() - t0)
        m = max(1, n // 20)
        t0 = time.process_time()
        for e in get_scenario(name, seed=1, limit=m).events(check=True):
            e.record  # noqa: B018
        slow = (time.process_time() - t0) / m
        rate = n / min(fast)
        ok = "met" if rate >= TARGETS["gen_per_s"] else "NOT met"
        records = f"records() {n / min(bare):>8,.0f}/s; " if bare else ""
        _say(f"  {name:<16} {rate:>10,.0f} events/s ({records}model path {1 / slow:>7,.0f}/s, "
             f"x{rate * slow:4.1f}); ratio to target {rate / TARGETS['gen_per_s']:4.2f} "
             f"(target >= {TARGETS['gen_per_s']:,}/s): {ok}")
        out[name] = rate
    return out


def producing(cluster: Any, n: int = 200_000, rounds: int = 3) -> dict[str, float]:
    topic = f"bench-speed-{uuid.uuid4().hex[:8]}"
    cluster.fresh_topic(topic, partitions=3)
    out: dict[str, float] = {}
    try:
        recs = [e.record for e in get_scenario("pizza", limit=n)]  # what produce("pizza") sends
        _say(f"== produce, generation included: labkit.produce('pizza', limit={n:,}) vs a plain "
             "loop over the same records made beforehand ==")
        plain, lab = [], []
        for _ in range(rounds):
            plain.append(plain_produce(cluster, topic, recs))
            t0 = time.perf_counter()
            h = produce("pizza", topic, limit=n, cluster=cluster, extra_config=dict(PRODUCER))
            assert h.wait(300), h.summary()
            lab.append(time.perf_counter() - t0)
            assert h.acked == n, h.summary()
        ratio = min(plain) / min(lab)
        _say(f"  plain loop {n / min(plain):>9,.0f}/s; labkit.produce('pizza') "
             f"{n / min(lab):>9,.0f}/s; ratio {ratio:4.2f} (target >= "
             f"{TARGETS['produce_ratio']:.2f}): {'met' if ratio >= 0.8 else 'NOT met'}")
        _say("    runs (s): plain " + ", ".join(f"{t:.2f}" for t in plain) + "; labkit "
             + ", ".join(f"{t:.2f}" for t in lab))
        out["produce_ratio"] = ratio
        big = 1_000_000
        cluster.fresh_topic(topic, partitions=3)
        t0 = time.perf_counter()
        produce_all("pizza", topic, limit=big, cluster=cluster, progress=True)
        took = time.perf_counter() - t0
        _say(f"  produce_all('pizza', limit=1,000,000) with its progress bar: {took:.2f} s "
             f"({big / took:,.0f}/s; target <= {TARGETS['produce_all_1m_s']:.0f} s): "
             f"{'met' if took <= TARGETS['produce_all_1m_s'] else 'NOT met'}")
        out["produce_all_1m_s"] = took
    finally:
        delete_topics(cluster, [topic], timeout=60)
    return out


def _plain_consume(cluster: Any, topic: str, n: int, *, per_partition: bool = False,
                   batch: int = 10_000, fold: bool = False) -> float:
    """A tuned plain loop: consume() in batches, the value and headers touched (as a decoder
    would), no cyclic GC meanwhile (as labkit.read and replay: each message's header tuples
    would make it rescan them). One consumer with every partition assigned, or with
    ``per_partition`` one consumer per partition, all fetching from the start, read one
    after the other (what labkit's reader does, minus decoding). With ``fold``, the replay a
    student would write by hand into the same dict as :func:`_fold`: the ``ce_type`` header
    found, the value parsed with orjson, ``state[key text] = type text``."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    conf = cluster.config(group_id=f"bench-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
                          **{"queued.min.messages": 1_000_000, "fetch.queue.backoff.ms": 10,
                             "max.partition.fetch.bytes": 8 << 20})
    parts = sorted(cluster.admin().list_topics(topic, timeout=10).topics[topic].partitions)
    gc.disable()
    t0 = time.perf_counter()
    groups = [[p] for p in parts] if per_partition else [parts]
    consumers = [Consumer(conf) for _ in groups]
    for c, ps in zip(consumers, groups, strict=True):
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ps])
    seen, state = 0, {}
    for c, ps in zip(consumers, groups, strict=True):
        want = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in ps)
        got = 0
        while got < want and time.perf_counter() - t0 < 300:
            for m in c.consume(min(batch, want - got), 1.0):
                if m.error() is None:
                    if fold:
                        for name, raw in m.headers():  # noqa: B007
                            if name == "ce_type":
                                break
                        orjson.loads(m.value())
                        state[m.key().decode()] = raw.decode()
                    else:
                        m.value()
                        m.headers()
                    got += 1
        seen += got
    took = time.perf_counter() - t0
    gc.enable()
    for c in consumers:
        c.close()
    assert seen == n, f"plain consume saw {seen} of {n}"
    return took


def _perf_test(cluster: Any, topic: str, n: int) -> float | None:
    """Kafka's own consumer (Java): its elapsed seconds, as the ceiling of the broker."""
    cmd = [sys.executable, "-m", "labkit.cli", "kafka", "kafka-consumer-perf-test",
           "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic, "--messages", str(n),
           "--timeout", "60000"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                             env=os.environ.copy()).stdout
    except subprocess.TimeoutExpired:
        return None
    rows = [line for line in out.splitlines() if re.match(r"^\d{4}-", line)]
    if not rows:
        _say("  kafka-consumer-perf-test: no result line:\n    " + out[-400:])
        return None
    cols = rows[-1].split(",")  # start, end, MB, MB/s, msgs, msgs/s, rebalance ms, fetch ms...
    return int(cols[4]) / float(cols[5]) if float(cols[5]) else None


def replaying(cluster: Any, n: int = 1_000_000) -> dict[str, float]:
    topic = f"bench-replay-{uuid.uuid4().hex[:8]}"
    cluster.fresh_topic(topic, partitions=3)
    out: dict[str, float] = {}
    try:
        recs = [e.record for e in get_scenario("pizza", limit=20_000)]
        plain_produce(cluster, topic, [recs[i % len(recs)] for i in range(n)])
        _say(f"== replay: {n:,} small events, 3 partitions ==")
        java = _perf_test(cluster, topic, n)
        if java:
            _say(f"  kafka-consumer-perf-test (Java)   {n / java:>10,.0f}/s  {java:6.2f} s")
        plains, replays, reads, singles, folds = [], [], [], [], []
        for _ in range(2):
            singles.append(_plain_consume(cluster, topic, n))
            plains.append(_plain_consume(cluster, topic, n, per_partition=True))
            folds.append(_plain_consume(cluster, topic, n, fold=True))
            t0 = time.perf_counter()
            state = replay(topic, _fold, {}, cluster=cluster, timeout=600)
            replays.append(time.perf_counter() - t0)
            assert state
        base, took = min(plains), min(replays)
        single = min(singles)
        _say(f"  plain loop, one consumer           {n / single:>9,.0f}/s  {single:6.2f} s")
        _say(f"  plain loop, a consumer a partition {n / base:>9,.0f}/s  {base:6.2f} s")
        base = min(base, single)  # the ceiling: the ratios below are to the faster loop
        _say(f"  labkit.replay (dict of last types) {n / took:>9,.0f}/s  {took:6.2f} s  ratio "
             f"{base / took:4.2f} (target >= {TARGETS['replay_ratio']:.2f}); 1M in "
             f"{took * 1e6 / n:.2f} s (target <= {TARGETS['replay_1m_s']:.0f} s)")
        by_hand = min(folds)
        _say(f"  the same replay by hand (one consumer, orjson) {n / by_hand:>9,.0f}/s  "
             f"{by_hand:6.2f} s; labkit.replay's ratio to it {by_hand / took:4.2f} (what labkit "
             "adds; the target above is to a loop that decodes nothing)")
        m = n // 4
        for _ in range(2):
            t0 = time.perf_counter()
            df = read(topic, cluster=cluster, stop={p: m // 3 for p in range(3)}, timeout=600)
            reads.append(time.perf_counter() - t0)
            del df
        size = 3 * (m // 3)
        read_ratio = (base * size / n) / min(reads)
        _say(f"  labkit.read, {size:,} rows          {size / min(reads):>10,.0f}/s  "
             f"{min(reads):6.2f} s  ratio {read_ratio:4.2f} to the plain loop (target >= "
             f"{TARGETS['read_ratio']:.2f})")
        _say("    runs (s): one consumer " + ", ".join(f"{t:.2f}" for t in singles)
             + "; per partition " + ", ".join(f"{t:.2f}" for t in plains) + "; by hand "
             + ", ".join(f"{t:.2f}" for t in folds) + "; replay "
             + ", ".join(f"{t:.2f}" for t in replays) + "; read "
             + ", ".join(f"{t:.2f}" for t in reads))
        out.update(replay_ratio=base / took, replay_1m_s=took * 1e6 / n, read_ratio=read_ratio,
                   replay_by_hand_ratio=by_hand / took,
                   perf_test=n / java if java else 0.0)
    finally:
        delete_topics(cluster, [topic], timeout=60)
    return out


def _fold(state: dict[str, str], event: Any) -> dict[str, str]:
    state[event.key] = event.type
    return state


def run(what: str = "all") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if what in ("gen", "all"):
        out["generation"] = generation(100_000 if what == "gen" else 50_000)
    if what in ("produce", "replay", "all"):
        cluster = labkit.connect()
        if what in ("produce", "all"):
            out.update(producing(cluster))
        if what in ("replay", "all"):
            out.update(replaying(cluster))
    return out


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else "all")
