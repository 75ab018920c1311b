"""Inspectors: the cluster's real state as tidy pandas DataFrames, sorted, one row per thing.

``topics``, ``partitions``, ``groups``, ``lag`` and ``nodes`` ask the brokers (AdminClient);
``segments`` and ``dump_segment`` look at a partition's files on disk (local backend only).
Each takes ``cluster=None`` (then the running lab cluster) and never starts a cluster.
Values the cluster cannot give right now (a partition without a leader) are ``<NA>``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labkit.cluster import resolve
from labkit.cluster.clients import committed, describe_groups, group_ids
from labkit.exceptions import LabkitError, NotSupportedError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from labkit.cluster.base import Cluster

__all__ = ["NotFoundError", "dump_segment", "groups", "lag", "nodes", "partitions",
           "segments", "topics"]

TIMEOUT = 15.0
SETTLE = 3.0  # seconds a just-created topic may take to reach every broker's metadata


class NotFoundError(LabkitError):
    """A topic, partition, group, node or segment the cluster does not have."""


def _frame(rows: list[dict[str, Any]], columns: list[str], ints: tuple[str, ...] = (),
           times: tuple[str, ...] = ()) -> Any:
    """A DataFrame with these columns even when empty; ``ints`` nullable, ``times`` (ms) UTC."""
    df = pd.DataFrame(rows, columns=columns)
    for col in ints:
        df[col] = df[col].astype("Int64")
    for col in times:
        df[col] = pd.to_datetime(df[col].astype("Int64"), unit="ms", utc=True)
    return df


def find_topic(c: Cluster, topic: str, *, required: bool = False) -> Any:
    """The metadata of ``topic``: None (or NotFoundError if ``required``) if there is no such
    topic. Lists every topic (asking for one by name could auto-create it), again for up to
    SETTLE s: a topic created a moment ago may not be in every broker's metadata yet."""
    deadline = time.monotonic() + SETTLE
    while (t := c.admin().list_topics(timeout=TIMEOUT).topics.get(topic)) is None or t.error:
        if time.monotonic() >= deadline:
            if required:
                raise NotFoundError(f"topic {topic!r} does not exist; create it or check "
                                    "the name")
            return None
        time.sleep(0.1)
    return t


def watermarks(c: Cluster, tps: list[tuple[str, int]], *,
               settle: float = SETTLE) -> dict[tuple[str, int], tuple[Any, Any]]:
    """(low, high) per (topic, partition): log-start offset and high watermark. Partitions
    that do not answer are asked again for up to ``settle`` s, then ``<NA>`` (no leader)."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    got: dict[tuple[tuple[str, int], str], int] = {}
    todo = [(tp, side) for tp in tps for side in ("low", "high")]
    deadline = time.monotonic() + settle
    while todo:
        for side, spec in (("low", OffsetSpec.earliest()), ("high", OffsetSpec.latest())):
            req = {TopicPartition(t, p): spec for (t, p), s in todo if s == side}
            if not req:
                continue
            futures = c.admin().list_offsets(req, request_timeout=TIMEOUT)
            for tp, fut in futures.items():  # failing: a new topic unknown yet, or no leader
                with contextlib.suppress(Exception):
                    got[((tp.topic, tp.partition), side)] = int(fut.result(TIMEOUT).offset)
        todo = [key for key in todo if key not in got]
        if not todo or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return {tp: (got.get((tp, "low"), pd.NA), got.get((tp, "high"), pd.NA)) for tp in tps}


def topic_configs(c: Cluster, names: list[str], *,
                  strict: bool = True) -> dict[str, dict[str, Any]]:
    """Every config entry (``ConfigEntry``) of each topic, by Kafka's dotted name; a topic
    that cannot be described raises (``strict``) or is left out."""
    from confluent_kafka.admin import ConfigResource, ResourceType

    if not names:
        return {}
    futures = c.admin().describe_configs(
        [ConfigResource(ResourceType.TOPIC, n) for n in names], request_timeout=TIMEOUT
    )
    out: dict[str, dict[str, Any]] = {}
    for res, fut in futures.items():
        try:
            out[res.name] = dict(fut.result(timeout=TIMEOUT))
        except Exception as exc:
            if strict:
                raise LabkitError(f"could not describe topic {res.name!r}: {exc}") from None
    return out


def topics(cluster: Cluster | None = None, *, internal: bool = False) -> Any:
    """One row per topic: ``topic, partitions, replication_factor, messages, cleanup.policy,
    retention.ms``. ``messages`` is the offset span (sum of high − low watermarks): on
    compacted or transactional topics it counts removed records and markers too.
    ``internal=True`` adds Kafka's own topics (names starting with ``__``)."""
    c = resolve(cluster)
    md = c.admin().list_topics(timeout=TIMEOUT)
    names = sorted(n for n, t in md.topics.items()
                   if t.error is None and (internal or not n.startswith("__")))
    marks = watermarks(c, [(n, p) for n in names for p in md.topics[n].partitions])
    configs = topic_configs(c, names, strict=False)  # a topic deleted meanwhile: no config
    rows = []
    for n in names:
        parts = md.topics[n].partitions
        spans = [marks[(n, p)][1] - marks[(n, p)][0] for p in parts]
        conf = configs.get(n, {})
        retention = conf.get("retention.ms")
        rows.append({
            "topic": n, "partitions": len(parts),
            "replication_factor": max((len(p.replicas) for p in parts.values()), default=0),
            "messages": pd.NA if any(s is pd.NA for s in spans) else sum(spans),
            "cleanup.policy": conf["cleanup.policy"].value if "cleanup.policy" in conf else None,
            "retention.ms": int(retention.value) if retention is not None else pd.NA})
    cols = ["topic", "partitions", "replication_factor", "messages", "cleanup.policy",
            "retention.ms"]
    return _frame(rows, cols, ints=("messages", "retention.ms"))


def partitions(topic: str, cluster: Cluster | None = None) -> Any:
    """One row per partition of ``topic``: ``partition, leader, replicas, isr, low, high,
    messages`` (``low`` = log-start offset, ``high`` = high watermark, ``messages`` = high − low;
    ``leader`` is -1 while the partition has none)."""
    c = resolve(cluster)
    t = find_topic(c, topic, required=True)
    marks = watermarks(c, [(topic, p) for p in t.partitions])
    rows = []
    for p in sorted(t.partitions):
        meta, (low, high) = t.partitions[p], marks[(topic, p)]
        rows.append({"partition": p, "leader": int(meta.leader), "replicas": list(meta.replicas),
                     "isr": list(meta.isrs), "low": low, "high": high, "messages": high - low})
    cols = ["partition", "leader", "replicas", "isr", "low", "high", "messages"]
    return _frame(rows, cols, ints=("low", "high", "messages"))


def committed_offsets(c: Cluster, group: str,
                      topics: Iterable[str] | None = None) -> dict[tuple[str, int], int]:
    """The offsets ``group`` has committed, per (topic, partition), on ``topics`` (default:
    every topic but Kafka's internal ones). Read through a consumer of the group, not the
    AdminClient: see :mod:`labkit.cluster.clients` for why."""
    meta = c.admin().list_topics(timeout=TIMEOUT).topics
    return committed(c.config(), group, _partitions_of(meta, topics), timeout=TIMEOUT)


def _partitions_of(meta: dict[str, Any], topics: Iterable[str] | None) -> list[tuple[str, int]]:
    """(topic, partition) of ``topics`` that exist in ``meta``; None: every non-internal one."""
    names = [t for t in meta if not t.startswith("__")] if topics is None else list(topics)
    return [(t, p) for t in names if t in meta and meta[t].error is None
            for p in meta[t].partitions]


def groups(cluster: Cluster | None = None, *, group: str | None = None) -> Any:
    """One row per consumer group and partition it has committed or been assigned:
    ``group, topic, partition, committed, high, lag, state, members, member``.
    ``committed`` is ``<NA>`` where the group committed nothing (then ``lag`` too);
    ``lag`` = high watermark − committed; ``member`` is the member id owning the partition
    now (None if unassigned). A group without either has one row with empty topic."""
    c = resolve(cluster)
    names = [group] if group is not None else group_ids(c.admin(), timeout=TIMEOUT)
    meta = c.admin().list_topics(timeout=TIMEOUT).topics
    everywhere = _partitions_of(meta, None)
    descs = describe_groups(c.config(), names, timeout=TIMEOUT)
    found = [(name, descs[name],
              {(tp.topic, tp.partition): m.member_id for m in descs[name].members
               for tp in (m.assignment.topic_partitions or [])},
              committed(c.config(), name, everywhere, timeout=TIMEOUT)) for name in names]
    if group is not None and found[0][1].state.name == "DEAD" and not found[0][3]:
        # asked for by name rather than looked up in the list: the list may lack groups
        # whose coordinator is loading, and one the student names should be found regardless
        known = group_ids(c.admin(), timeout=TIMEOUT)
        near = difflib.get_close_matches(group, known, n=3)
        raise NotFoundError(f"consumer group {group!r} does not exist"
                            + (f"; did you mean {', '.join(near)}?" if near else "")
                            + f" ({len(known)} group(s) exist: inspect.groups() lists them)")
    marks = watermarks(c, sorted({tp for *_, owner, done in found for tp in {*owner, *done}
                                  if tp[0] in meta}))
    rows: list[dict[str, Any]] = []
    for name, desc, owner, commits in found:
        base = {"group": name, "state": desc.state.name, "members": len(desc.members)}
        tps = sorted(set(owner) | set(commits))
        if not tps:
            rows.append({**base, "topic": None, "partition": pd.NA, "committed": pd.NA,
                         "high": pd.NA, "lag": pd.NA, "member": None})
        for tp in tps:
            done, high = commits.get(tp, pd.NA), marks.get(tp, (pd.NA, pd.NA))[1]
            lag_ = pd.NA if done is pd.NA or high is pd.NA else max(high - done, 0)
            rows.append({**base, "topic": tp[0], "partition": tp[1], "committed": done,
                         "high": high, "lag": lag_, "member": owner.get(tp)})
    cols = ["group", "topic", "partition", "committed", "high", "lag", "state", "members",
            "member"]
    return _frame(rows, cols, ints=("partition", "committed", "high", "lag"))


def lag(group: str, topic: str | None = None, cluster: Cluster | None = None) -> Any:
    """Per-partition lag of ``group`` (on ``topic`` only, if given):
    ``topic, partition, committed, high, lag``."""
    df = groups(cluster, group=group)
    df = df[df["topic"].notna()]
    if topic is not None:
        df = df[df["topic"] == topic]
    return df[["topic", "partition", "committed", "high", "lag"]].reset_index(drop=True)


def quorum_leader(c: Cluster) -> int | None:
    """The KRaft quorum leader as the live local nodes last recorded it (their
    ``__cluster_metadata-0/quorum-state`` files, highest epoch wins); None elsewhere."""
    best: tuple[int, int] | None = None
    for n in c.nodes if c.backend == "local" else []:
        path = (n.directory or Path()) / "data" / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(path.read_text()) if n.alive else {}
        except (OSError, ValueError):  # not written yet, or being rewritten
            continue
        epoch, leader = int(state.get("leaderEpoch", -1)), int(state.get("leaderId", -1))
        if leader >= 0 and (best is None or epoch > best[0]):
            best = (epoch, leader)
    return best[1] if best else None


def nodes(cluster: Cluster | None = None, *, internal: bool = False) -> Any:
    """One row per node: ``node, host, port, pid, alive, ready, quorum_leader, leaders``.
    ``alive``: the process runs (local backend; True elsewhere); ``ready``: the cluster's
    metadata lists it as a broker; ``quorum_leader``: it leads the KRaft controller quorum
    (local backend, read from the nodes' quorum-state files; ``<NA>`` elsewhere);
    ``leaders``: partitions it leads (of lab topics, plus Kafka's own with ``internal``)."""
    c = resolve(cluster)
    md = c.admin().list_topics(timeout=TIMEOUT)
    counts: dict[int, int] = {}
    for name, t in md.topics.items():
        if internal or not name.startswith("__"):
            for p in t.partitions.values():
                counts[p.leader] = counts.get(p.leader, 0) + 1
    leader = quorum_leader(c) if c.backend == "local" else None
    known = {n.id: n for n in c.nodes}
    rows = []
    for node_id in sorted(set(known) | set(md.brokers)):
        n, b = known.get(node_id), md.brokers.get(node_id)
        rows.append({"node": node_id, "host": n.host if n else b.host,
                     "port": n.port if n else b.port, "pid": n.pid if n else None,
                     "alive": n.alive if n else True, "ready": b is not None,
                     "quorum_leader": pd.NA if c.backend != "local" else node_id == leader,
                     "leaders": counts.get(node_id, 0)})
    df = _frame(rows, ["node", "host", "port", "pid", "alive", "ready", "quorum_leader",
                       "leaders"], ints=("pid",))
    df["quorum_leader"] = df["quorum_leader"].astype("boolean")
    return df


# -- on disk (local backend) --------------------------------------------------------------------
_BATCH = struct.Struct(">qiibIhiqqqhii")  # the 61-byte header of a v2 record batch


def partition_dir(c: Cluster, topic: str, partition: int, node: int | None = None) -> Path:
    """The folder holding ``topic``/``partition`` on ``node`` (default: its leader)."""
    if c.backend != "local":
        raise NotSupportedError(f"segments live on the brokers' disks; the {c.backend} backend "
                                "does not expose them (use the local backend)")
    meta = find_topic(c, topic, required=True)
    if partition not in meta.partitions:
        raise NotFoundError(f"topic {topic!r} has no partition {partition}; it has "
                            f"{len(meta.partitions)}")
    replicas = list(meta.partitions[partition].replicas)
    if node is None:
        node = int(meta.partitions[partition].leader)
        if node < 0:
            raise LabkitError(f"{topic}-{partition} has no leader right now; pass node= one "
                              f"of its replicas {replicas}")
    info = {n.id: n for n in c.nodes}.get(node)
    if info is None or info.directory is None:
        raise NotFoundError(f"node {node} is not part of this cluster; nodes: "
                            f"{sorted(n.id for n in c.nodes)}")
    path = info.directory / "data" / f"{topic}-{partition}"
    if not path.is_dir():
        raise NotFoundError(f"node {node} holds no replica of {topic}-{partition}; its "
                            f"replicas are on nodes {replicas}")
    return path


def scan_batches(path: Path) -> dict[str, Any]:
    """Walk the batch headers of one ``.log`` file (no record is decoded): records, offsets
    and timestamps. Stops at a batch still being written."""
    out: dict[str, Any] = {"records": 0, "last_offset": None, "first_ts": None, "max_ts": None}
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        pos = 0
        while pos + _BATCH.size <= size:
            f.seek(pos)
            (base, length, _epoch, magic, _crc, attrs, last_delta, first_ts, max_ts,
             *_rest, count) = _BATCH.unpack(f.read(_BATCH.size))
            pos += 12 + length
            if magic != 2 or pos > size:
                break
            out["records"] += count
            out["last_offset"] = base + last_delta
            if attrs & 0x08:  # LogAppendTime: every record carries the batch's max timestamp
                first_ts = max_ts
            if count and first_ts >= 0 and out["first_ts"] is None:
                out["first_ts"] = first_ts
            if count and max_ts >= 0:
                out["max_ts"] = max(max_ts, out["max_ts"] or max_ts)
    return out


def segments(topic: str, partition: int = 0, cluster: Cluster | None = None, *,
             node: int | None = None) -> Any:
    """The partition's segment files on the leader's disk (or ``node``'s), oldest first:
    ``file, base_offset, last_offset, records, size, first_timestamp, max_timestamp, active``.
    ``base_offset`` comes from the file name, ``size`` in bytes from the file system; offsets,
    record counts and timestamps from walking the ``.log`` file's record-batch headers (cheap:
    no record is decoded, exact, unlike the sparse ``.timeindex``). ``first_timestamp`` is the
    first record's, ``max_timestamp`` the largest (what retention uses). The last segment is
    the active one (written to, never compacted nor deleted). Local backend only."""
    c = resolve(cluster)
    folder = partition_dir(c, topic, partition, node)
    rows = []
    for path in sorted(folder.glob("*.log")):
        if not path.stem.isdigit():
            continue
        try:
            size, scan = path.stat().st_size, scan_batches(path)
        except FileNotFoundError:  # removed by retention or compaction meanwhile
            continue
        rows.append({"file": path.name, "base_offset": int(path.stem),
                     "last_offset": scan["last_offset"], "records": scan["records"],
                     "size": size, "first_timestamp": scan["first_ts"],
                     "max_timestamp": scan["max_ts"], "active": False})
    rows.sort(key=lambda r: r["base_offset"])
    if rows:
        rows[-1]["active"] = True
    df = _frame(rows, ["file", "base_offset", "last_offset", "records", "size",
                       "first_timestamp", "max_timestamp", "active"],
                ints=("last_offset",), times=("first_timestamp", "max_timestamp"))
    df.attrs["directory"] = str(folder)
    return df


_RECORD = re.compile(
    r"^\| offset: (?P<offset>-?\d+) (?P<tstype>\w+): (?P<ts>-?\d+) keySize: (?P<ks>-?\d+) "
    r"valueSize: (?P<vs>-?\d+) sequence: (?P<seq>-?\d+) headerKeys: \[(?P<hk>.*?)\](?P<rest>.*)$"
)
_PAIR = re.compile(r"(\w+): (\S+)")
DUMP_COLUMNS = ["offset", "base_offset", "position", "batch_size", "timestamp",
                "timestamp_type", "key_size", "value_size", "key", "payload", "header_keys",
                "sequence", "producer_id", "is_transactional", "is_control", "compression",
                "control"]


def _key_payload(rest: str, ks: int, vs: int) -> tuple[str | None, str | None]:
    """Split ``" key: K payload: P"``; where K itself holds " payload: ", the key's byte
    size picks the right split."""
    if ks < 0:
        return None, rest[len(" payload: "):] if vs >= 0 else None
    body = rest[len(" key: "):]
    if vs < 0:
        return body, None
    cuts = [m.start() for m in re.finditer(" payload: ", body)]
    cut = next((i for i in cuts if len(body[:i].encode()) == ks), cuts[0] if cuts else len(body))
    return body[:cut], body[cut + len(" payload: "):]


def parse_dump(text: str, limit: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Rows from ``kafka-dump-log --print-data-log`` output; True if cut at ``limit``.
    A line that is neither a batch nor a record continues the previous payload (a newline
    inside a value)."""
    rows: list[dict[str, Any]] = []
    batch: dict[str, str] = {}
    open_row = False  # the last line was a record (or its continuation) with a payload
    for line in text.removesuffix("\n").split("\n"):
        if line.startswith("baseOffset: "):
            batch, open_row = dict(_PAIR.findall(line)), False
            continue
        m = _RECORD.match(line)
        if m is None:
            if open_row:
                rows[-1]["payload"] += "\n" + line
            continue
        if limit is not None and len(rows) >= limit:
            return rows, True
        ks, vs, rest = int(m["ks"]), int(m["vs"]), m["rest"]
        control = batch.get("isControl") == "true"
        key, payload = (None, None) if control else _key_payload(rest, ks, vs)
        marker = dict(_PAIR.findall(rest)) if control else {}
        rows.append({
            "offset": int(m["offset"]), "base_offset": int(batch.get("baseOffset", -1)),
            "position": int(batch.get("position", -1)),
            "batch_size": int(batch.get("size", -1)), "timestamp": int(m["ts"]),
            "timestamp_type": m["tstype"], "key_size": ks, "value_size": vs, "key": key,
            "payload": payload, "header_keys": [h for h in m["hk"].split(",") if h],
            "sequence": int(m["seq"]), "producer_id": int(batch.get("producerId", -1)),
            "is_transactional": batch.get("isTransactional") == "true", "is_control": control,
            "compression": batch.get("compresscodec"),
            "control": next(iter(marker.values()), None) if control else None,
        })
        open_row = payload is not None
    return rows, False


def dump_segment(topic: str, partition: int = 0, *, segment: int | str | None = None,
                 cluster: Cluster | None = None, node: int | None = None, limit: int = 1000,
                 max_bytes: int = 64 * 1024 * 1024) -> Any:
    """One segment decoded by Kafka's own ``DumpLogSegments`` (``kafka-dump-log --files F
    --print-data-log``), one row per record: ``offset, base_offset, position, batch_size,
    timestamp, timestamp_type, key_size, value_size, key, payload, header_keys, sequence,
    producer_id, is_transactional, is_control, compression, control``.

    ``segment``: an offset (the segment holding it), a file name, or None for the oldest.
    ``base_offset``, ``position``, ``batch_size`` (bytes) locate the record's batch. Keys and
    payloads are the tool's UTF-8 text (binary bytes show as replacement characters); the
    tool prints header keys, not values. ``control`` is COMMIT/ABORT on transaction markers.
    At most ``limit`` rows and ``max_bytes`` of the file are read; ``df.attrs["truncated"]``
    says if that cut the segment short, ``df.attrs["file"]`` names the file."""
    if limit < 1 or max_bytes < 1:
        raise LabkitError("limit and max_bytes must be positive; e.g. limit=100")
    c = resolve(cluster)
    segs = segments(topic, partition, c, node=node)
    if segs.empty:
        raise NotFoundError(f"{topic}-{partition} has no segment file yet")
    if isinstance(segment, str):
        match = segs[segs["file"] == segment]
    else:  # the segment holding that offset (None: the oldest)
        match = segs[segs["base_offset"] <= (segs["base_offset"].iloc[0] if segment is None
                                             else int(segment))].tail(1)
    if match.empty:
        raise NotFoundError(f"{topic}-{partition} has no segment {segment!r}; its files: "
                            f"{', '.join(segs['file'])}")
    row = match.iloc[0]
    path = Path(segs.attrs["directory"]) / row["file"]
    out = c.kafka("kafka-dump-log", "--files", str(path), "--print-data-log",
                  "--max-bytes", str(max_bytes))
    rows, cut = parse_dump(out.stdout, limit)
    df = _frame(rows, DUMP_COLUMNS, times=("timestamp",))
    df.attrs["file"] = str(path)
    df.attrs["truncated"] = cut or int(row["size"]) > max_bytes
    return df
