"""A local node's JVM process seen from the operating system: its Java heap (``jcmd
GC.heap_info``) and its I/O counters (``/proc/PID/io``). Evidence for what the broker does
*not* do when it serves old records: copy them through its heap, or read them from disk when
the page cache holds them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.cluster.java import find_java
from labkit.exceptions import NotFoundError, NotSupportedError

if TYPE_CHECKING:
    from labkit.cluster.base import Cluster

__all__ = ["heap", "io_counters", "node_pid"]

_GEN = re.compile(r"total (\d+)K, used (\d+)K")  # a heap space's line (Serial, Parallel, G1)


def node_pid(cluster: Cluster, node: int) -> int:
    """The pid of ``node``'s broker JVM (local backend only)."""
    known = {n.id: n for n in cluster.nodes}
    if node not in known:
        raise NotFoundError(f"node {node} is not part of this cluster; nodes: {sorted(known)}")
    pid = known[node].pid
    if pid is None or not known[node].alive:
        raise NotSupportedError(f"node {node} has no local process labkit can look at (the "
                                f"{cluster.backend} backend, or the node is down)")
    return pid


def heap(cluster: Cluster, node: int) -> dict[str, int]:
    """``{"used": bytes, "committed": bytes}`` of ``node``'s Java heap, from ``jcmd PID
    GC.heap_info`` (the JDK's own tool, next to ``java``)."""
    pid = node_pid(cluster, node)
    jcmd = Path(find_java().path).resolve().parent / "jcmd"
    if not jcmd.exists():
        raise NotSupportedError(f"no jcmd next to {find_java().path}: a JRE without the JDK "
                                "tools cannot show a broker's heap")
    out = subprocess.run([str(jcmd), str(pid), "GC.heap_info"], capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL)
    spaces = [(int(t), int(u)) for line in out.stdout.splitlines()
              if not line.strip().startswith(("Metaspace", "class space"))
              for t, u in _GEN.findall(line)]
    if out.returncode != 0 or not spaces:
        raise NotSupportedError(f"jcmd could not read node {node}'s heap: "
                                f"{(out.stderr or out.stdout).strip()[:200]}")
    return {"used": sum(u for _, u in spaces) * 1024,
            "committed": sum(t for t, _ in spaces) * 1024}


def io_counters(cluster: Cluster, node: int) -> dict[str, int]:
    """``node``'s I/O since it started, from Linux's ``/proc/PID/io``: ``read_bytes`` (what
    the disk really delivered, page-cache hits excluded), ``write_bytes``, ``rchar`` (bytes
    handed over by read and sendfile calls, cache or not)."""
    pid = node_pid(cluster, node)
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError as exc:
        raise NotSupportedError(f"cannot read /proc/{pid}/io (Linux only): {exc}") from None
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return {k: int(fields[k]) for k in ("read_bytes", "write_bytes", "rchar", "wchar")}
