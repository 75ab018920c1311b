"""The log on disk: a partition's segment files, their record-batch headers, and Kafka's own
``DumpLogSegments`` output as a DataFrame. Needs a backend that exposes the nodes' disks
(``cluster.data_dir(node)``: the local one); elsewhere NotSupportedError says so.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labkit.cluster import resolve
from labkit.exceptions import NotFoundError, NotSupportedError, UsageError
from labkit.kafka.topics import describe, partition_ids
from labkit.validate import positive

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["BATCH_COLUMNS", "DUMP_COLUMNS", "INDEX_COLUMNS", "batches", "dump_segment",
           "index_files", "parse_dump", "partition_dir", "scan_batches", "segments"]


def _frame(rows: list[dict[str, Any]], columns: list[str], ints: tuple[str, ...] = (),
           times: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame with these columns even when empty; ``ints`` nullable, ``times`` (ms) UTC."""
    df = pd.DataFrame(rows, columns=columns)
    for col in ints:
        df[col] = df[col].astype("Int64")
    for col in times:
        df[col] = pd.to_datetime(df[col].astype("Int64"), unit="ms", utc=True)
    return df


_BATCH = struct.Struct(">qiibIhiqqqhii")  # the 61-byte header of a v2 record batch


def partition_dir(c: Cluster, topic: str, partition: int, node: int | None = None) -> Path:
    """The folder holding ``topic``/``partition`` on ``node`` (default: its leader)."""
    partition_ids(c, topic, partition)
    meta = describe(c, topic)
    replicas = list(meta.partitions[partition].replicas)
    if node is None:
        node = int(meta.partitions[partition].leader)
        if node < 0:
            raise NotFoundError(f"{topic}-{partition} has no leader right now; pass node= one "
                                f"of its replicas {replicas}")
    if node not in {n.id for n in c.nodes}:
        raise NotFoundError(f"node {node} is not part of this cluster; nodes: "
                            f"{sorted(n.id for n in c.nodes)}")
    data = c.data_dir(node)
    if data is None:
        raise NotSupportedError(f"segments live on the brokers' disks; the {c.backend} backend "
                                "does not expose them (use the local backend)")
    path = data / f"{topic}-{partition}"
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


def segments(topic: str, partition: int = 0, *, cluster: Cluster | None = None,
             node: int | None = None) -> pd.DataFrame:
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
                 max_bytes: int = 64 * 1024 * 1024) -> pd.DataFrame:
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
    positive("limit", limit, whole=True)
    positive("max_bytes", max_bytes, whole=True)
    c = resolve(cluster)
    path, size = _segment_file(c, topic, partition, segment, node)
    out = c.kafka("kafka-dump-log", "--files", str(path), "--print-data-log",
                  "--max-bytes", str(max_bytes))
    rows, cut = parse_dump(out.stdout, limit)
    df = _frame(rows, DUMP_COLUMNS, times=("timestamp",))
    df.attrs["file"] = str(path)
    df.attrs["truncated"] = cut or size > max_bytes
    return df


BATCH_COLUMNS = ["base_offset", "last_offset", "count", "position", "size", "compression",
                 "producer_id", "base_sequence"]


def _segment_file(c: Cluster, topic: str, partition: int, segment: int | str | None,
                  node: int | None) -> tuple[Path, int]:
    """The ``.log`` file holding ``segment`` (an offset, a file name, None: the oldest) and
    its size in bytes."""
    if segment is not None and (isinstance(segment, bool)
                                or not isinstance(segment, int | str)):
        raise UsageError(f"segment={segment!r} is not valid; give an offset, a file name or "
                         "None")
    segs = segments(topic, partition, cluster=c, node=node)
    if segs.empty:
        raise NotFoundError(f"{topic}-{partition} has no segment file yet")
    if isinstance(segment, str):
        match = segs[segs["file"] == segment]
    else:  # the segment holding that offset (None: the oldest)
        first = segs["base_offset"].iloc[0]
        match = segs[segs["base_offset"] <= (first if segment is None else int(segment))]
    if match.empty:
        raise NotFoundError(f"{topic}-{partition} has no segment {segment!r}; its files: "
                            f"{', '.join(segs['file'])}")
    row = match.iloc[-1]
    return Path(segs.attrs["directory"]) / row["file"], int(row["size"])


def batches(topic: str, partition: int = 0, *, segment: int | str | None = None,
            cluster: Cluster | None = None, node: int | None = None) -> pd.DataFrame:
    """The record batches of one segment as Kafka's own ``kafka-dump-log --files F`` lists
    them (batch headers only), one row per batch: ``base_offset, last_offset, count``
    (records in the batch), ``position`` and ``size`` (bytes in the file), ``compression``
    (``none``, ``lz4``, ``zstd``, ...), ``producer_id`` (-1: not idempotent),
    ``base_sequence``. ``segment`` as in :func:`dump_segment`. Local backend only."""
    c = resolve(cluster)
    path, _ = _segment_file(c, topic, partition, segment, node)
    out = c.kafka("kafka-dump-log", "--files", str(path))
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("baseOffset: "):
            f = dict(_PAIR.findall(line))
            rows.append({"base_offset": int(f["baseOffset"]), "last_offset": int(f["lastOffset"]),
                         "count": int(f["count"]), "position": int(f["position"]),
                         "size": int(f["size"]), "compression": f.get("compresscodec"),
                         "producer_id": int(f["producerId"]),
                         "base_sequence": int(f["baseSequence"])})
    df = _frame(rows, BATCH_COLUMNS)
    df.attrs["file"] = str(path)
    return df


INDEX_COLUMNS = ["segment", "log_size", "index_size", "index_entries", "timeindex_size",
                 "timeindex_entries", "index_disk", "active"]


def index_files(topic: str, partition: int = 0, *, cluster: Cluster | None = None,
                node: int | None = None) -> pd.DataFrame:
    """Each segment's ``.log`` next to its sparse ``.index`` (offset -> byte position) and
    ``.timeindex`` (time -> offset), one row per segment, oldest first: the files' sizes in
    bytes, the entries Kafka's own ``kafka-dump-log`` lists in each, ``index_disk`` (bytes
    the file system really allocated to the ``.index``: the active segment's index is
    preallocated to ``segment.index.bytes`` but holds only its few entries) and ``active``.
    Kafka adds an index entry about every ``index.interval.bytes`` (4096) of log, not one per
    record. Local backend only; one tool run for all the files."""
    c = resolve(cluster)
    segs = segments(topic, partition, cluster=c, node=node)
    folder = Path(segs.attrs["directory"])
    stems = [f.removesuffix(".log") for f in segs["file"]]
    files = [str(folder / f"{s}{ext}") for s in stems for ext in (".index", ".timeindex")]
    entries: dict[str, int] = {}
    if files:
        out = c.kafka("kafka-dump-log", "--files", ",".join(files))
        current = None
        for line in out.stdout.splitlines():
            if line.startswith("Dumping "):
                current = Path(line.removeprefix("Dumping ").strip()).name
                entries[current] = 0
            elif current and (line.startswith("offset: ") or line.startswith("timestamp: ")):
                entries[current] += 1
    rows = []
    for stem, (_, seg) in zip(stems, segs.iterrows(), strict=True):
        index, timeindex = folder / f"{stem}.index", folder / f"{stem}.timeindex"
        try:
            ist, tst = index.stat(), timeindex.stat()
        except FileNotFoundError:  # removed by retention meanwhile
            continue
        rows.append({"segment": seg["file"], "log_size": int(seg["size"]),
                     "index_size": ist.st_size, "index_entries": entries.get(index.name, 0),
                     "timeindex_size": tst.st_size,
                     "timeindex_entries": entries.get(timeindex.name, 0),
                     "index_disk": ist.st_blocks * 512, "active": bool(seg["active"])})
    df = _frame(rows, INDEX_COLUMNS)
    df.attrs["directory"] = str(folder)
    return df
