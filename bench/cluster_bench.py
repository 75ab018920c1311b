"""Cluster start-up figures: cold start to ready (1 and 3 nodes, median of 3), warm attach from a
new process, RSS per node. Runs in a private LABKIT_HOME so it never touches the lab cluster."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import labkit
from labkit.cluster.jars import cache_dir, find_libs
from labkit.settings import Settings

TARGETS = {"cold_1": 4.0, "cold_3": 10.0, "attach": 0.3, "rss_mb": 400.0}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load(cluster: labkit.Cluster, n: int = 50_000) -> None:
    from confluent_kafka import Producer

    topic = cluster.fresh_topic("bench-rss", partitions=3)
    p = Producer(cluster.config(acks="all", linger_ms=5))
    for i in range(n):
        p.produce(topic, b"x" * 200, key=str(i % 100).encode())
        if i % 10_000 == 0:
            p.poll(0)
    p.flush(60)


@contextmanager
def private_home() -> Iterator[None]:
    """A private LABKIT_HOME (free ports, the shared jars) for clusters a bench starts itself;
    the lab cluster of the real LABKIT_HOME is never touched, and is used again after."""
    shared = cache_dir(Settings.from_env())
    find_libs(Settings.from_env())  # make sure the jars are there (not timed)
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as home:
        os.environ.update({"LABKIT_HOME": home, "KAFKA_HOME": str(shared)})
        os.environ.pop("LABKIT_BASE_PORT", None)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def run(repeats: int = 3) -> dict[str, float]:
    results: dict[str, float] = {}
    with private_home():
        _measure(results, repeats)
    for key, target in TARGETS.items():
        verdict = "ok" if results[key] <= target else "OVER TARGET"
        print(f"  {key:<8} {results[key]:8.2f}  target <= {target:<5}  {verdict}")
    return results


def _measure(results: dict[str, float], repeats: int) -> None:
    """Cold starts of 1 and 3 nodes, attach time, RSS (in the private LABKIT_HOME)."""
    for nodes in (1, 3):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            cluster = labkit.connect(nodes=nodes)
            times.append(time.perf_counter() - t0)
            if _ != repeats - 1:
                cluster.down(purge=True)
        results[f"cold_{nodes}"] = statistics.median(times)
        print(f"cold start to ready, {nodes} node(s): median {results[f'cold_{nodes}']:.2f} s"
              f"  (runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
        if nodes == 3:
            attach = []
            code = "import labkit; labkit.connect(start=False).bootstrap_servers"
            for _ in range(5):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], check=True, env=os.environ)
                attach.append(time.perf_counter() - t0)
            results["attach"] = statistics.median(attach)
            print(f"warm attach from a new process (python -c, incl. interpreter start): "
                  f"median {results['attach']:.3f} s", flush=True)
            idle = [_rss_mb(n.pid) for n in cluster.nodes if n.pid]
            _load(cluster)
            loaded = [_rss_mb(n.pid) for n in cluster.nodes if n.pid]
            results["rss_mb"] = max(loaded)
            print(f"RSS per node: idle {', '.join(f'{r:.0f}' for r in idle)} MB; after "
                  f"50k events {', '.join(f'{r:.0f}' for r in loaded)} MB", flush=True)
        cluster.down(purge=True)


if __name__ == "__main__":
    run()
