"""The state file (``$LABKIT_HOME/cluster.json``) and process helpers.

The cluster outlives the notebook kernel that started it, so what it is (backend, nodes, pids,
ports, folders) is written down where any later process can find it. Writes are atomic.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from labkit.exceptions import ClusterTimeoutError
from labkit.settings import Settings
from labkit.waiting import poll_until

STATE_NAME = "cluster.json"


def state_path(settings: Settings) -> Path:
    return settings.home / STATE_NAME


def read_state(settings: Settings) -> dict[str, Any] | None:
    path = state_path(settings)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"corrupt": True}


def write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, path)


def remove_state(settings: Settings) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(settings).unlink()


def _cmdline(pid: int) -> str:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.exists() or sys.platform.startswith("linux"):
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""
    out = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True)
    return out.stdout


# Processes this Python process launched: their Popen handle is the authority on whether they
# run (reading /proc/PID/cmdline races with exec under load and may show the parent's line).
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether ``pid`` runs; with ``marker``, also whether its command line contains it (a
    reused pid is not ours). Our own children are asked through their Popen handle."""
    if not pid:
        return False
    child = CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    if marker is None:
        return True
    cmdline = _cmdline(pid)
    return marker in cmdline or not cmdline.strip()  # unreadable: assume it is still ours


def signal_group(pid: int, sig: int) -> None:
    """Signal a node's whole process group (it runs in a session of its own)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_pids(pids: dict[int, str], timeout: float) -> None:
    """SIGTERM every pid at once, wait up to ``timeout`` s, then SIGKILL what is left."""
    live = {p: m for p, m in pids.items() if pid_alive(p, m)}
    for pid in live:
        signal_group(pid, signal.SIGTERM)

    def gone() -> bool:
        for p, m in list(live.items()):
            if not pid_alive(p, m):
                del live[p]
        return not live

    with contextlib.suppress(ClusterTimeoutError):  # no error: what is left gets SIGKILL
        poll_until(f"pids {sorted(live)} to exit after SIGTERM", gone, timeout=timeout,
                   interval=0.1)
    if not live:
        return
    for pid in live:
        signal_group(pid, signal.SIGKILL)
    poll_until(f"pids {sorted(live)} to exit after SIGKILL", gone, timeout=10, interval=0.05,
               hint="a process stuck in the kernel ignores SIGKILL for a while; 'ps' shows it")


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
