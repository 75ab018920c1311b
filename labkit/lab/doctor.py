"""``labkit doctor``: a pre-flight check of this machine for ``make lab``.

Each finding is one line: ✓ what is fine, ✗ what blocks the lab and how to fix it, or ! a
warning (the lab works, something is worth knowing). The doctor only looks: it starts,
stops, fetches and deletes nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from labkit.exceptions import LabkitError
from labkit.settings import Settings

__all__ = ["Finding", "diagnose", "report"]

MIN_MEMORY_MB = 2048  # 3 nodes of up to 256 MB heap each, their JVMs, JupyterLab and a kernel
MIN_DISK_GB = 4.0  # lesson 04 writes a backlog of several times the heap (about 2 GB)


@dataclasses.dataclass(frozen=True)
class Finding:
    status: str  # "ok", "warn" or "fail" (fail: blocks 'make lab')
    what: str
    detail: str

    def line(self) -> str:
        mark = {"ok": "✓", "warn": "!", "fail": "✗"}[self.status]
        return f"{mark} {self.what}: {self.detail}"


def _python() -> Finding:
    v = sys.version_info
    if v >= (3, 11):
        return Finding("ok", "Python", f"{v.major}.{v.minor}.{v.micro}")
    return Finding("fail", "Python", f"{v.major}.{v.minor} is too old; install Python 3.11+ "
                   "and run 'make setup PYTHON=python3.11'")


def _java(_s: Settings) -> Finding:
    from labkit.cluster.java import find_java

    java = find_java()
    return Finding("ok", "Java", f"{java.version} ({java.path})")


def _jars(s: Settings) -> Finding:
    from labkit.cluster.jars import find_libs

    try:
        return Finding("ok", "Kafka jars", f"Kafka {s.kafka_version} in "
                       f"{find_libs(s, fetch=False)}")
    except LabkitError:
        if shutil.which("mvn"):
            return Finding("warn", "Kafka jars", f"Kafka {s.kafka_version} is not fetched yet; "
                           "'make setup' (or 'labkit install') fetches it with Maven")
        return Finding("fail", "Kafka jars", f"Kafka {s.kafka_version} is not fetched and "
                       "Maven is missing; install Maven (apt-get install maven) or set "
                       "KAFKA_HOME to an unpacked Kafka release")


def _ports(s: Settings) -> Finding:
    from labkit.cluster.ports import DEFAULT_BASE_PORT, PORT_STEP, port_free
    from labkit.cluster.state import read_state

    base = s.base_port or DEFAULT_BASE_PORT
    ports = [base + i * PORT_STEP + k for i in range(s.nodes) for k in (0, 1)]
    ours = {n.get(k) for n in _alive_nodes(read_state(s) or {})
            for k in ("port", "controller_port")}
    taken = [p for p in ports if p not in ours and not port_free(p)]
    if not taken:
        return Finding("ok", "ports", f"{', '.join(map(str, ports))} free on 127.0.0.1")
    if s.base_port is None:
        return Finding("warn", "ports", f"{taken[0]} is taken on 127.0.0.1; the lab will pick "
                       "free ports instead (set LABKIT_BASE_PORT to choose)")
    return Finding("fail", "ports", f"{taken[0]} (LABKIT_BASE_PORT={s.base_port}) is taken on "
                   "127.0.0.1; free it or set LABKIT_BASE_PORT to another base")


def _alive_nodes(state: dict[str, object]) -> list[dict[str, object]]:
    """The nodes of a lab cluster's state whose processes run (read only)."""
    from labkit.cluster.state import pid_alive

    nodes = state.get("nodes", [])
    return [n for n in (nodes if isinstance(nodes, list) else [])
            if isinstance(n, dict) and isinstance(n.get("pid"), int) and pid_alive(int(n["pid"]))]


def _memory(s: Settings) -> Finding:
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available = int(info["MemAvailable"].split()[0]) // 1024
    except (OSError, KeyError, ValueError):
        return Finding("warn", "memory", "could not read /proc/meminfo (not Linux?); the lab "
                       f"needs about {MIN_MEMORY_MB} MB free")
    need = MIN_MEMORY_MB if s.nodes == 3 else MIN_MEMORY_MB // 2
    if available >= need:
        return Finding("ok", "memory", f"{available:,} MB available (the lab needs ~{need:,})")
    return Finding("fail", "memory", f"{available:,} MB available, the lab needs ~{need:,}; "
                   "close programs, or run 1 node with 'labkit up --nodes 1'")


def _disk(s: Settings) -> Finding:
    where = s.home
    while not where.exists():
        where = where.parent
    free_gb = shutil.disk_usage(where).free / 1e9
    if free_gb >= MIN_DISK_GB:
        return Finding("ok", "disk", f"{free_gb:,.1f} GB free at {where}")
    return Finding("fail", "disk", f"{free_gb:,.1f} GB free at {where}, the lessons need "
                   f"~{MIN_DISK_GB:.0f} GB; free space or set LABKIT_HOME to a larger disk")


def _cluster(s: Settings) -> Finding:
    from labkit.cluster import resolve_backend
    from labkit.cluster.state import read_state

    if resolve_backend(s) != "local":
        return Finding("ok", "cluster", f"backend {resolve_backend(s)} (not checked here)")
    state = read_state(s)
    if not state:
        return Finding("ok", "cluster", "none running ('make lab' starts one)")
    if state.get("corrupt"):
        return Finding("warn", "cluster", f"an unreadable state file in {s.home}; 'labkit "
                       "down' removes it")
    nodes = state.get("nodes", []) if isinstance(state.get("nodes"), list) else []
    alive = _alive_nodes(state)
    if not alive:
        return Finding("warn", "cluster", f"a stale state file in {s.home} (its nodes are "
                       "gone); 'labkit down' removes it, 'labkit up' replaces it")
    return _health(s, len(alive), len(nodes))


def _health(s: Settings, alive: int, total: int) -> Finding:
    from labkit.cluster import running_cluster

    cluster = running_cluster(s)
    try:
        ready = cluster.broker_ids(timeout=3) if cluster is not None else set()
    except Exception:  # the doctor reports what it sees, whatever the client raised
        ready = set()
    if alive == total and len(ready) == total:
        return Finding("ok", "cluster", f"{total} node(s) running and ready")
    return Finding("warn", "cluster", f"{alive} of {total} node(s) running, {len(ready)} "
                   "ready; 'labkit up' restarts the ones that are down")


def _browser(_s: Settings) -> Finding:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return Finding("ok", "browser (for the browser test)", found)
    return Finding("warn", "browser (for the browser test)", "no chromium; 'make test' "
                   "installs Debian's with apt where it can, else that test skips")


CHECKS: list[Callable[[Settings], Finding]] = [
    _java, _jars, _ports, _memory, _disk, _cluster, _browser]


def diagnose(settings: Settings | None = None) -> list[Finding]:
    """Every finding, in order; a check that raised a labkit error is a failure whose
    detail is that error's one-line message."""
    found = [_python()]
    try:
        s = settings or Settings.from_env()
    except LabkitError as exc:
        return [*found, Finding("fail", "settings", str(exc))]
    for check in CHECKS:
        name = check.__name__.strip("_")
        try:
            found.append(check(s))
        except LabkitError as exc:
            found.append(Finding("fail", name, " ".join(str(exc).split())))
    return found


def report(settings: Settings | None = None) -> tuple[str, bool]:
    """The doctor's text and whether nothing blocks the lab."""
    found = diagnose(settings)
    lines = [f.line() for f in found]
    blocked = [f for f in found if f.status == "fail"]
    lines.append(f"{len(blocked)} problem(s) block 'make lab'" if blocked
                 else "nothing blocks 'make lab'")
    return "\n".join(lines), not blocked
