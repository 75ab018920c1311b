"""Operating the lab's cluster (lesson 10): what Kafka's tools say, the lab's settings beside
Kafka's defaults, and the lesson's exercise checks (in the manner of :mod:`labkit.lab.check`).

* :func:`log_dirs`: ``kafka-log-dirs --describe`` as a table (node, partition, size, lag);
* :func:`lab_settings`: every setting of ``labkit/cluster/properties.py`` whose value differs
  from Kafka's own default, the default read from the broker (``describe_configs``: the
  ``DEFAULT_CONFIG`` synonym of each setting), with the comment that explains it;
* :func:`retention_covers`: a topic keeps what an outage of N days at a measured rate writes;
* :func:`design_choices`: the design exercise's answers against a key stored hashed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.cluster import resolve
from labkit.cluster.properties import broker_properties
from labkit.exceptions import UsageError
from labkit.kafka.topics import partition_ids, topic_configs
from labkit.lab.check import CheckResult, _check, _missing, _parts
from labkit.validate import positive

if TYPE_CHECKING:
    import pandas as pd

    from labkit.cluster import Cluster

__all__ = ["PATTERNS", "design_choices", "lab_settings", "log_dirs", "retention_covers"]

PATTERNS = ("notification", "state transfer", "event sourcing", "outbox",
            "stream processing", "share group", "dead letter")
"""The patterns the design exercise offers."""

_KEY = {  # sha256 of "<requirement>:<pattern>" for the right pattern of each requirement
    1: "263938e9e223905dfaa6638a8418cc80a8745d3754c18dca78ee1d28edbe0096",
    2: "de3fb9737650da4877074a4ce94b5849ffaee91427b5a03016b1927992c3e634",
    3: "eee49d5638f20ed5fdf32751c1e359c77f432199647621462494f2eec618fa60",
    4: "ad294534896239481478233cf4ab619a42d0e93a904b215bdf87290ea37ed41c",
    5: "fbd435b7b73fa99ab344c35b653058a7a6adc075d1524f7eb3b00be93d438b50",
}


def _digest(requirement: int, pattern: str) -> str:
    return hashlib.sha256(f"{requirement}:{pattern}".encode()).hexdigest()


def log_dirs(topics: str, *, cluster: Cluster | None = None) -> pd.DataFrame:
    """``kafka-log-dirs --describe --topic-list topics`` (names separated by commas): one row
    per replica (topic, partition, node, size in bytes, offset lag behind the log end), from
    Kafka's own tool."""
    import pandas as pd

    c = resolve(cluster)
    out = c.kafka("kafka-log-dirs", "--describe", "--topic-list", topics).stdout
    report = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    rows = []
    for broker in report["brokers"]:
        for folder in broker["logDirs"]:
            for p in folder["partitions"]:
                topic, partition = p["partition"].rsplit("-", 1)
                rows.append({"topic": topic, "partition": int(partition),
                             "node": broker["broker"], "size": p["size"],
                             "offset_lag": p["offsetLag"], "log_dir": folder["logDir"]})
    return pd.DataFrame(rows).sort_values(["topic", "partition", "node"], ignore_index=True)


def _explained(text: str) -> dict[str, tuple[str, str]]:
    """{setting: (value, the comment block above it)} from a node.properties text."""
    out: dict[str, tuple[str, str]] = {}
    block: list[str] = []
    fresh = True
    for line in text.splitlines():
        if line.startswith("#"):
            if not fresh:  # a new block of comments begins
                block, fresh = [], True
            block.append(line.lstrip("# ").strip())
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = (value, " ".join(block))
            fresh = False
    return out


def lab_settings(*, cluster: Cluster | None = None) -> pd.DataFrame:
    """The lab cluster's settings that differ from Kafka's defaults: setting, the lab's value,
    Kafka's default (as the broker reports it), the value the broker runs with, and why the
    lab changed it (the comment in ``labkit/cluster/properties.py``)."""
    import pandas as pd
    from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType

    c = resolve(cluster)
    node = c.nodes[0].id
    lab = _explained(broker_properties(node, {n.id: (9092, 9093) for n in c.nodes},
                                       Path("a"), len(c.nodes)))
    other = _explained(broker_properties(node, {n.id: (19092, 19093) for n in c.nodes},
                                         Path("b"), len(c.nodes)))
    lab = {k: v for k, v in lab.items() if other.get(k) == v}  # not ports or paths
    res = ConfigResource(ResourceType.BROKER, str(node))
    entries = next(iter(c.admin().describe_configs([res], request_timeout=30).values())).result()
    rows = []
    for key, (value, why) in lab.items():
        entry = entries.get(key)
        default = None if entry is None else next(
            (s.value for s in (entry.synonyms or {}).values()
             if s.source == ConfigSource.DEFAULT_CONFIG.value), None)
        if entry is None or default is None or default == value:
            continue  # per node (ports, paths, ids), or what Kafka does anyway
        rows.append({"setting": key, "lab": value, "Kafka default": default,
                     "broker runs": entry.value, "why the lab differs": why})
    return pd.DataFrame(rows)


@_check
def retention_covers(topic: str, *, days: float, bytes_per_second: float,
                     cluster: Cluster | None = None) -> CheckResult:
    """``topic`` keeps ``days`` of records written at ``bytes_per_second`` (the whole topic,
    one copy): ``retention.ms`` at least that long, and ``retention.bytes`` (per partition)
    bounded, at least the partition's share and at most four times it (sized, not guessed)."""
    name = "retention_covers"
    positive("days", days)
    positive("bytes_per_second", bytes_per_second)
    c = resolve(cluster)
    if _parts(c, topic) is None:
        return _missing(topic, name)
    parts = len(partition_ids(c, topic))
    need = bytes_per_second * 86400 * days / parts
    conf = topic_configs(c, [topic])[topic]
    ms, size = int(conf["retention.ms"].value), int(conf["retention.bytes"].value)
    if 0 <= ms < days * 86_400_000:
        return CheckResult(False, f"retention.ms={ms} deletes records after {ms / 86.4e6:.1f} "
                                  f"days; an outage of {days:g} days needs more", name)
    if size < 0:
        return CheckResult(False, "retention.bytes is unbounded (-1): give the partitions a "
                                  "size, so a flood cannot fill the disk", name)
    if not need <= size <= 4 * need:
        return CheckResult(False, f"retention.bytes={size:,} per partition; {days:g} days at "
                                  f"{bytes_per_second:,.0f} B/s over {parts} partitions need "
                                  "more than that" if size < need else
                                  f"retention.bytes={size:,} is over 4x what {days:g} days "
                                  "need: size it from the measured rate", name)
    return CheckResult(True, f"{topic!r} keeps {days:g} days: {size:,} bytes per partition "
                             f"({size * parts / (bytes_per_second * 86400):.1f} days at the "
                             "measured rate)", name)


@_check
def design_choices(answers: Mapping[int, str]) -> CheckResult:
    """The design exercise: ``{requirement number: pattern}`` against the stored key."""
    name = "design_choices"
    unknown = {a for a in answers.values() if a not in PATTERNS}
    if unknown:
        raise UsageError(f"{sorted(unknown)}: choose among {', '.join(PATTERNS)}")
    missing = sorted(set(_KEY) - set(answers))
    if missing:
        return CheckResult(False, f"no answer yet for requirement(s) {missing}", name)
    wrong = [n for n in sorted(_KEY) if _digest(n, answers[n]) != _KEY[n]]
    if wrong:
        return CheckResult(False, f"{len(_KEY) - len(wrong)} of {len(_KEY)} right; think "
                                  f"again about requirement(s) {wrong}", name)
    return CheckResult(True, f"all {len(_KEY)} requirements matched to their pattern", name)
