"""Share groups (KIP-932, "queues for Kafka"): the group settings a lesson needs, and what the
broker says about a share group, through Kafka's own ``kafka-share-groups`` tool.

The student writes the share consumer (confluent-kafka's ``ShareConsumer``); labkit only sets
the group up, runs copies of the student's program as processes (:mod:`labkit.members` runs
any program), and looks::

    shares.require_share_groups(cluster)            # share.version >= 1 on the cluster
    shares.configure("lesson09.queue", auto_offset_reset="earliest", delivery_count_limit=3)
    shares.wait_for_members("lesson09.queue", "lesson09.jobs", ["w1", "w2"])
    shares.members("lesson09.queue")                # kafka-share-groups --describe --members
    shares.handled_by("lesson09.queue")             # {"worker-1": 120, ...} from the journals

confluent-kafka 2.16 has no share-group admin API (a preview limit), so descriptions and
deletions go through Kafka's ``ShareGroupCommand``: a JVM per call, about a second or two.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labkit.cluster import resolve
from labkit.exceptions import SetupError, UsageError
from labkit.kafka import errors
from labkit.kafka.clients import TIMEOUT
from labkit.kafka.topics import partition_ids
from labkit.settings import Settings
from labkit.validate import name as check_name
from labkit.waiting import poll_until

if TYPE_CHECKING:
    from labkit.cluster import Cluster

__all__ = ["SETTINGS", "broker_setting", "configure", "delete", "describe", "feature_level",
           "group_config", "handled_by", "list_groups", "members", "require_share_groups",
           "reset", "share_groups_tool", "wait_for_members"]


SETTINGS = {  # keyword -> the share group's config key (Kafka's GroupConfig)
    "auto_offset_reset": "share.auto.offset.reset",
    "record_lock_duration_ms": "share.record.lock.duration.ms",
    "delivery_count_limit": "share.delivery.count.limit",
    "session_timeout_ms": "share.session.timeout.ms",
    "heartbeat_interval_ms": "share.heartbeat.interval.ms",
}


# -- the cluster's share settings -----------------------------------------------------------
def feature_level(feature: str = "share.version", *, cluster: Cluster | None = None) -> int:
    """The finalized level of a cluster feature (``kafka-features describe``); 0 if unset."""
    out = resolve(cluster).kafka("kafka-features", "describe").stdout
    for line in out.splitlines():
        m = re.search(rf"Feature: {re.escape(feature)}\s.*FinalizedVersionLevel: (\S+)", line)
        if m:
            return int(m.group(1)) if m.group(1).isdigit() else 0
    return 0


def require_share_groups(cluster: Cluster | None = None) -> int:
    """The cluster's ``share.version``; SetupError if share groups are off (below 1)."""
    level = feature_level("share.version", cluster=cluster)
    if level < 1:
        raise SetupError("share groups are off on this cluster (share.version=0); turn them "
                         "on with 'labkit kafka kafka-features upgrade --feature "
                         "share.version=1' (Kafka 4.1+; a fresh 4.4 cluster has them on)")
    return level


def broker_setting(key: str, *, cluster: Cluster | None = None,
                   timeout: float = TIMEOUT) -> str:
    """One setting of the broker that answers first (e.g.
    ``group.share.min.record.lock.duration.ms``), as Kafka reports it."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    c = resolve(cluster)
    broker = min(c.admin().list_topics(timeout=timeout).brokers)
    res = ConfigResource(ResourceType.BROKER, str(broker))
    try:
        entries = c.admin().describe_configs([res], request_timeout=timeout)[res].result(
            timeout=timeout)
    except Exception as exc:
        raise errors.to_labkit(exc, f"describe broker {broker}") from None
    if key not in entries:
        raise UsageError(f"broker {broker} has no setting {key!r}")
    return str(entries[key].value)


# -- a share group's own settings -------------------------------------------------------------
def configure(group: str, *, cluster: Cluster | None = None, timeout: float = TIMEOUT,
              **settings: Any) -> dict[str, str]:
    """Set ``group``'s share settings with ``incremental_alter_configs`` on a GROUP resource
    (keywords: see :data:`SETTINGS`, e.g. ``auto_offset_reset="earliest"``,
    ``delivery_count_limit=3``, ``record_lock_duration_ms=15000``); the broker checks them
    against its ``group.share.min.*``/``max.*`` bounds. Returns the group's settings now."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    check_name("group", group)
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown or not settings:
        raise UsageError(f"share group settings {unknown or '(none)'}: give one or more of "
                         f"{', '.join(SETTINGS)}")
    c = resolve(cluster)
    group = c.name(group)  # a class student's own
    entries = [ConfigEntry(SETTINGS[k], str(v), incremental_operation=AlterConfigOpType.SET)
               for k, v in settings.items()]
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    try:
        c.admin().incremental_alter_configs([res], request_timeout=timeout)[res].result(
            timeout=timeout)
    except Exception as exc:
        raise errors.to_labkit(exc, f"set share settings of group {group!r}",
                               hint="the broker's group.share.min.*/max.* settings bound "
                                    "each value") from None
    wanted = {e.name: e.value for e in entries}
    seen: dict[str, str] = {}

    def applied() -> bool:  # the settings travel through the metadata log to every broker
        seen.update(group_config(group, cluster=c, timeout=timeout))
        return all(seen.get(k) == v for k, v in wanted.items())

    poll_until(f"the settings of share group {group!r} to reach the brokers", applied,
               timeout=timeout, interval=0.2)
    return seen


def group_config(group: str, *, cluster: Cluster | None = None,
                 timeout: float = TIMEOUT) -> dict[str, str]:
    """``group``'s ``share.*`` settings as the broker has them (its defaults included)."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    check_name("group", group)
    c = resolve(cluster)
    group = c.name(group)
    res = ConfigResource(ResourceType.GROUP, group)
    try:
        entries = c.admin().describe_configs([res], request_timeout=timeout)[res].result(
            timeout=timeout)
    except Exception as exc:
        raise errors.to_labkit(exc, f"describe the settings of group {group!r}") from None
    return {k: str(v.value) for k, v in sorted(entries.items()) if k.startswith("share.")}


# -- kafka-share-groups -----------------------------------------------------------------------
def share_groups_tool(*args: str, cluster: Cluster | None = None, check: bool = True,
                      timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run Kafka's ``kafka-share-groups`` (``ShareGroupCommand``) with ``args`` against the
    cluster, e.g. ``share_groups_tool("--describe", "--group", g, "--members")``."""
    return resolve(cluster).kafka("kafka-share-groups", *args, check=check, timeout=timeout)


def _table(text: str) -> pd.DataFrame:
    """The first table of the tool's output (a header line in capitals, then rows), one
    column per header word; a row's last column takes the rest of its line (an empty
    assignment is ``""``)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = next((i for i, ln in enumerate(lines) if ln.startswith("GROUP ")), None)
    if head is None:
        return pd.DataFrame()
    columns = lines[head].split()
    rows = []
    for ln in lines[head + 1:]:
        if ln.startswith(("GROUP ", "Share group ", "Error")):
            break
        cells = ln.split(None, len(columns) - 1)
        rows.append(cells + [""] * (len(columns) - len(cells)))
    return pd.DataFrame(rows, columns=[c.lower().replace("-", "_").lstrip("#")
                                       for c in columns])


def list_groups(*, cluster: Cluster | None = None) -> list[str]:
    """Every share group's name (``kafka-share-groups --list``). Share groups are not
    consumer groups: ``labkit.kafka.group_ids`` and ``cluster.reset`` do not see them."""
    out = share_groups_tool("--list", cluster=cluster).stdout
    return sorted(ln.strip() for ln in out.splitlines() if ln.strip())


def members(group: str, *, cluster: Cluster | None = None) -> pd.DataFrame:
    """``group``'s members as the broker has them: ``client_id``, ``consumer_id``,
    ``partitions`` (how many), ``member_epoch``, ``assignment`` (a list of ``(topic,
    partition)``). Empty if the group has no members (or does not exist)."""
    check_name("group", group)
    c = resolve(cluster)
    out = share_groups_tool("--describe", "--group", c.name(group), "--members", "--verbose",
                            cluster=c).stdout
    df = _table(out)
    if df.empty:
        return pd.DataFrame(columns=["client_id", "consumer_id", "partitions",
                                     "member_epoch", "assignment"])

    def parts(text: str) -> list[tuple[str, int]]:
        pairs = [a.rpartition(":") for a in text.split(",") if ":" in a]
        return sorted((t, int(p)) for t, _, p in pairs)

    df["assignment"] = df["assignment"].map(parts)
    df["partitions"] = df["partitions"].astype(int)
    df["member_epoch"] = df["member_epoch"].astype(int)
    return df[["client_id", "consumer_id", "partitions", "member_epoch", "assignment"]]


def describe(group: str, *, cluster: Cluster | None = None) -> pd.DataFrame:
    """``group``'s progress per partition (``kafka-share-groups --describe --offsets``):
    ``topic, partition, start_offset`` (the share-partition start offset as the share
    coordinator last stored it: every record below it is done with; Kafka 4.4 moves it
    lazily, so it may trail) and ``lag`` (records up to the log end not acknowledged nor
    archived yet: 0 when the group has worked through everything); None where the group
    has not started on a partition."""
    check_name("group", group)
    c = resolve(cluster)
    df = _table(share_groups_tool("--describe", "--group", c.name(group), "--offsets",
                                  cluster=c).stdout)
    if df.empty:
        return pd.DataFrame(columns=["topic", "partition", "start_offset", "lag"])
    for col in ("partition", "start_offset", "lag"):
        df[col] = [int(v) if v.lstrip("-").isdigit() else None for v in df[col]]
    return df[["topic", "partition", "start_offset", "lag"]]


def delete(groups: Iterable[str], *, cluster: Cluster | None = None,
           settings: bool = True) -> dict[str, str]:
    """Delete share groups that have no members (``kafka-share-groups --delete``) and, with
    ``settings``, their group settings too (Kafka keeps a deleted group's settings).
    Returns ``{group: why}`` for those not deleted (members still there: a killed member
    stays until its session times out)."""
    c = resolve(cluster)
    failed: dict[str, str] = {}
    for group in groups:
        group = c.name(check_name("group", group))
        out = share_groups_tool("--delete", "--group", group, cluster=c, check=False)
        text = (out.stdout + out.stderr).strip()
        if "successful" not in text and "does not exist" not in text:
            failed[group] = text.splitlines()[-1] if text else f"exit {out.returncode}"
        if settings:
            _forget_settings(c, group)
    return failed


def _forget_settings(c: Cluster, group: str) -> None:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    entries = [ConfigEntry(key, "", incremental_operation=AlterConfigOpType.DELETE)
               for key in SETTINGS.values()]
    res = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    try:
        c.admin().incremental_alter_configs([res], request_timeout=TIMEOUT)[res].result(
            timeout=TIMEOUT)
    except Exception as exc:
        raise errors.to_labkit(exc, f"remove the settings of group {group!r}") from None

    def forgotten() -> bool:  # the removal travels through the metadata log to every broker
        from confluent_kafka.admin import ConfigSource

        found = c.admin().describe_configs([ConfigResource(ResourceType.GROUP, group)],
                                           request_timeout=TIMEOUT)
        entries = next(iter(found.values())).result(timeout=TIMEOUT)
        return not any(e.source == ConfigSource.GROUP_CONFIG.value
                       for k, e in entries.items() if k in SETTINGS.values())

    poll_until(f"the settings of share group {group!r} to be removed on the brokers",
               forgotten, timeout=TIMEOUT, interval=0.2)


def reset(prefix: str, *, also: Iterable[str] = (),
          cluster: Cluster | None = None) -> dict[str, str]:
    """Delete the share groups named ``prefix…`` and their settings (what
    ``cluster.reset(prefix)`` does for topics and consumer groups), and the settings of the
    groups ``also`` names (settings given to a group that never had a member: Kafka does
    not list it). Returns ``{group: why}`` for the groups still holding members (a killed
    member stays until its session times out); their settings are removed all the same."""
    check_name("prefix", prefix)
    c = resolve(cluster)
    prefix = c.name(prefix)  # a class student's own
    failed = delete([g for g in list_groups(cluster=c) if g.startswith(prefix)], cluster=c)
    for group in also:
        _forget_settings(c, c.name(check_name("group", group)))
    return failed


def wait_for_members(group: str, topic: str, names: Iterable[str], *,
                     cluster: Cluster | None = None, timeout: float = 60.0) -> pd.DataFrame:
    """Wait until the members of ``group`` whose client ids are ``names`` are each assigned
    every partition of ``topic`` (in a share group every member may be given every
    partition; a killed member of an earlier run may still be listed until its session
    times out, hence the names). Returns those members (:func:`members`)."""
    c = resolve(cluster)
    group, topic = c.name(group), c.name(topic)
    wanted = [(topic, p) for p in partition_ids(c, topic)]
    expected = sorted(set(names))
    if not expected:
        raise UsageError("names: give the client ids of the members to wait for")
    seen: list[pd.DataFrame] = []

    def ready() -> bool:  # (a DataFrame has no truth value: keep it aside)
        df = members(group, cluster=c)
        df = df[df["client_id"].isin(expected)].reset_index(drop=True)
        seen[:] = [df]
        full = df[df["assignment"].map(lambda a: all(tp in a for tp in wanted))]
        return sorted(set(full["client_id"])) == expected

    poll_until(f"members {expected} of share group {group!r} to be given every partition "
               f"of {topic!r}", ready, timeout=timeout, interval=0.5,
               hint="share members join on their heartbeat (every 5 s by default); a "
                    "member program may have failed: Member.raise_for_errors() shows "
                    "its output",
               describe=lambda _no: f"{len(seen[0]) if seen else 0} of them listed so far")
    return seen[0]


_COUNTS: dict[Path, tuple[int, int]] = {}  # journal -> (bytes read, handled lines in them)


def handled_by(group: str) -> dict[str, int]:
    """Records each member of ``group`` has handled so far (lines of its journal, written by
    a program :mod:`labkit.members` runs, with an ``offset``); reads only what was appended
    since the last call, so a live chart can sample it."""
    check_name("group", group)
    folder = Settings.from_env().home / "members" / group
    out: dict[str, int] = {}
    for path in sorted(folder.glob("*.jsonl")):
        done, count = _COUNTS.get(path, (0, 0))
        try:
            with path.open("rb") as f:
                if os.fstat(f.fileno()).st_size < done:  # a fresh journal: count again
                    done, count = 0, 0
                f.seek(done)
                chunk = f.read()
        except FileNotFoundError:
            continue
        cut = chunk.rfind(b"\n") + 1
        count += chunk[:cut].count(b'"offset"')
        _COUNTS[path] = (done + cut, count)
        out[path.stem] = count
    return out
