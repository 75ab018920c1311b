"""Consumer-group members as processes of their own.

The lesson's student writes a member program in plain confluent-kafka (``Consumer``,
``subscribe`` with ``on_assign``/``on_revoke``, the ``poll`` loop, ``msg.error()``, commits,
``close()`` in ``finally``). labkit runs copies of it, each a real process, and can stop one
(SIGTERM: the program gets ``KeyboardInterrupt``, as with Ctrl-C, so its ``finally`` closes the
consumer) or kill one (SIGKILL: no ``close()``, no last commit; the group notices only when the
member's session expires)::

    kitchen = members.start("work/member05.py", "cook-1", group="lesson05.kitchen",
                            topic="lesson05.orders", work_ms=20)
    members.wait_for_members("lesson05.kitchen", "lesson05.orders", 1)
    kitchen.kill()
    df = members.journal("lesson05.kitchen")

Each member gets one argument, a JSON object of its settings: ``name``, ``group``, ``topic``,
``config`` (the client configuration to reach the cluster), ``journal`` (a file of its own to
append one JSON object per line to) and the options given to :func:`start`. A journal line with
an ``offset`` is a handled record; other lines (``assigned``, ``revoked``, ``committed``,
``error``) are what the member saw. A member exits by itself when the process that started it
is gone, so a crashed kernel leaves nothing running.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.cluster import resolve
from labkit.exceptions import ServiceError, SetupError, StateError, UsageError
from labkit.kafka.groups import describe, group_settings
from labkit.kafka.topics import partition_ids
from labkit.moments import announce
from labkit.settings import Settings
from labkit.validate import name as check_name
from labkit.waiting import poll_until

if TYPE_CHECKING:
    import pandas as pd

    from labkit.cluster import Cluster

__all__ = ["Member", "clear", "handled", "journal", "require_quick_groups", "start", "stop_all",
           "wait_for_members", "wait_handled"]

_RUNNING: list[Member] = []
_LOCK = threading.Lock()


# options that name a topic, group or transactional id (prefixed for a class student)
NAMED_OPTIONS = ("output", "transactional_id", "dead_letters", "changelog")


def _journal_dir(group: str) -> Path:
    return Settings.from_env().home / "members" / group


class Member:
    """One running copy of a member program (see the module's docstring)."""

    def __init__(self, script: str | Path, name: str, *, group: str, topic: str,
                 cluster: Cluster | None = None, **options: Any) -> None:
        check_name("member", name)
        check_name("group", group)
        check_name("topic", topic)
        self.script = Path(script)
        if not self.script.is_file():
            raise UsageError(f"member program {str(script)!r} does not exist; write it first "
                             "(the lesson's %%writefile cell)")
        self.name, self.group, self.topic = name, group, topic
        self.options = options
        self._cluster = cluster
        self.journal_path = _journal_dir(group) / f"{name}.jsonl"
        self._stderr = self.journal_path.with_suffix(".stderr")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Member:
        """Start the program (a fresh journal; an unknown topic fails here, at once)."""
        if self.alive:
            return self
        cluster = resolve(self._cluster)
        partition_ids(cluster, self.topic)
        self.journal_path.parent.mkdir(parents=True, exist_ok=True)
        named = {k: cluster.name(v) for k, v in self.options.items()  # a class student's
                 if k in NAMED_OPTIONS and isinstance(v, str)}          # own names
        settings = {"name": self.name, "group": cluster.name(self.group),
                    "topic": cluster.name(self.topic),
                    "config": cluster.config(), "journal": str(self.journal_path),
                    **self.options, **named}
        with self._stderr.open("wb") as err:  # the settings (credentials too) on stdin,
            self._proc = subprocess.Popen(      # never on the command line (ps shows it)
                [sys.executable, "-m", "labkit.members", str(self.script), "-"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert self._proc.stdin is not None
        with self._proc.stdin as pipe:
            pipe.write(json.dumps(settings).encode())
        with _LOCK:
            _RUNNING.append(self)
        announce(f"{self.name} started")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop it as Ctrl-C would: its ``finally`` closes the consumer (a last commit, and
        it leaves the group at once)."""
        if not self.alive:
            return
        assert self._proc is not None
        announce(f"{self.name} stopped")
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            raise ServiceError(f"member {self.name!r} did not stop within {timeout:.0f}s of "
                               "SIGTERM; it was killed. " + self._tail()) from None
        self.raise_for_errors()

    def kill(self) -> None:
        """SIGKILL: the process ends at once, without ``close()`` or a last commit."""
        if not self.alive:
            raise StateError(f"member {self.name!r} is not running; start() it first")
        assert self._proc is not None
        announce(f"{self.name} killed")
        self._proc.kill()
        self._proc.wait(10)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait until the program ends by itself (done, or killed at a chosen record) and
        return its exit code (negative: the signal that ended it, e.g. -9 for SIGKILL)."""
        if self._proc is None:
            raise StateError(f"member {self.name!r} was never started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"member {self.name!r} still runs after {timeout:.0f}s; "
                               "stop() or kill() it. " + self._tail()) from None

    def raise_for_errors(self) -> None:
        """ServiceError with the end of its stderr if the program failed (not if it was
        stopped or killed by labkit)."""
        if self._proc is None or self._proc.poll() is None:
            return
        if self._proc.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
            raise ServiceError(f"member {self.name!r} exited with code "
                               f"{self._proc.returncode}. {self._tail()}")

    def _tail(self, lines: int = 8) -> str:
        try:
            text = self._stderr.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "Its last output: " + " | ".join(text[-lines:]) if text else ""

    def journal(self) -> pd.DataFrame:
        """What this member wrote in its journal, one row per line."""
        return _frame({self.name: self.journal_path})

    def __repr__(self) -> str:
        state = "running" if self.alive else "not running"
        return f"<Member {self.name!r} of group {self.group!r}, pid {self.pid}, {state}>"


def start(script: str | Path, name: str, *, group: str, topic: str,
          cluster: Cluster | None = None, fresh: bool = True, **options: Any) -> Member:
    """Start a copy of the member program ``script`` named ``name`` in ``group``; ``options``
    reach the program in its settings. ``fresh``: start its journal empty."""
    member = Member(script, name, group=group, topic=topic, cluster=cluster, **options)
    if fresh:
        member.journal_path.unlink(missing_ok=True)
    return member.start()


def stop_all(group: str | None = None, *, timeout: float = 15.0) -> None:
    """Stop every running member (of ``group``); each closes its consumer."""
    with _LOCK:
        chosen = [m for m in _RUNNING if group is None or m.group == group]
    for m in chosen:
        m.stop(timeout)
    with _LOCK:
        _RUNNING[:] = [m for m in _RUNNING if m.alive]


def _frame(paths: dict[str, Path]) -> pd.DataFrame:
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for member, path in paths.items():
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:  # the last line of a killed member may be cut short
                continue
            if isinstance(row, dict):
                rows.append({"member": member, **row})
    df = pd.DataFrame(rows)
    return df.sort_values("t", kind="stable", ignore_index=True) if "t" in df else df


def journal(group: str) -> pd.DataFrame:
    """Every journal line of ``group``'s members (the ones started since the group's journals
    were last cleared), as a DataFrame with a ``member`` column, in time order if lines have
    a ``t``."""
    check_name("group", group)
    folder = _journal_dir(group)
    return _frame({p.stem: p for p in sorted(folder.glob("*.jsonl"))})


_COUNTS: dict[Path, tuple[int, int]] = {}  # journal -> (bytes read, handled lines in them)


def handled(group: str) -> int:
    """How many records ``group``'s members have handled so far (journal lines with an
    ``offset``); reads only what was appended since the last call (cheap for a chart)."""
    total = 0
    for path in sorted(_journal_dir(group).glob("*.jsonl")):
        done, count = _COUNTS.get(path, (0, 0))
        with path.open("rb") as f:
            if os.fstat(f.fileno()).st_size < done:  # a fresh journal: count again
                done, count = 0, 0
            f.seek(done)
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1  # whole lines only
        count += chunk[:cut].count(b'"offset"')
        _COUNTS[path] = (done + cut, count)
        total += count
    return total


def wait_for_members(group: str, topic: str, count: int, *, cluster: Cluster | None = None,
                     timeout: float = 30.0) -> Any:
    """Wait until ``group`` is stable with ``count`` members whose assignments of ``topic``
    are disjoint and cover every partition; return the group's description."""
    c = resolve(cluster)
    group, topic = c.name(group), c.name(topic)  # a class student's own
    parts = set(partition_ids(c, topic))

    def settled() -> Any:
        d = describe(c, group, timeout=5)
        owned = [tp.partition for m in d.members for tp in m.assignment.topic_partitions
                 if tp.topic == topic]
        ok = (d.state.name == "STABLE" and len(d.members) == count
              and sorted(owned) == sorted(parts))
        return d if ok else None

    return poll_until(f"group {group!r} to settle with {count} member(s) sharing every "
                      f"partition of {topic!r}", settled, timeout=timeout, interval=0.2,
                      hint="a member program may have failed: Member.raise_for_errors() "
                           "shows its output")


def wait_handled(group: str, ends: dict[int, int], *, by: list[str] | None = None,
                 timeout: float = 60.0) -> None:
    """Wait until ``group``'s journals show every partition ``p`` of ``ends`` handled up to
    offset ``ends[p]`` (exclusive; e.g. the high watermarks taken earlier). ``by``: count only
    these members' journals (e.g. the survivors of a crash, not the member that crashed)."""
    def done() -> bool:
        df = journal(group)
        if by is not None and "member" in df:
            df = df[df["member"].isin(by)]
        if "offset" not in df:
            return not any(ends.values())
        top = df[df["offset"].notna()].groupby("partition")["offset"].max()
        return all(end == 0 or top.get(p, -1) >= end - 1 for p, end in ends.items())

    who = f"group {group!r}" if by is None else f"{', '.join(by)} (of {group!r})"
    poll_until(f"{who} to handle every record below {ends}", done, timeout=timeout,
               interval=0.2, hint="are its members running? Member.raise_for_errors() shows "
                                  "a failed one's output")


def clear(prefix: str) -> list[str]:
    """Stop the members of groups whose names start with ``prefix`` and delete their
    journals (a lesson starting over); returns the groups cleared."""
    import shutil

    check_name("prefix", prefix)
    with _LOCK:
        groups = {m.group for m in _RUNNING if m.group.startswith(prefix)}
    for g in groups:
        stop_all(g)
    root = Settings.from_env().home / "members"
    gone = sorted(d.name for d in root.glob("*") if d.is_dir() and d.name.startswith(prefix))
    for name in gone:
        shutil.rmtree(root / name, ignore_errors=True)
    return gone


QUICK_HEARTBEAT_MS = 1000


def require_quick_groups(cluster: Cluster | None = None) -> None:
    """SetupError unless the cluster's KIP-848 groups heartbeat at least every second (the
    lab's broker settings): with Kafka's defaults (5 s, and 45 s before a silent member is
    removed) the group lessons' demonstrations take minutes."""
    c = resolve(cluster)
    ms = group_settings(c).get("group.consumer.heartbeat.interval.ms", 5000)
    if ms > QUICK_HEARTBEAT_MS:
        raise SetupError(
            f"this cluster's consumer groups heartbeat every {ms} ms, the lab's settings say "
            f"{QUICK_HEARTBEAT_MS} ms: it was started before them; restart it with "
            "'labkit down && labkit up' (an external cluster: ask its administrator for the "
            "group.consumer.* settings in labkit/cluster/properties.py)")


# -- the runner: python -m labkit.members SCRIPT SETTINGS ----------------------------------------
def _stop_all_at_exit() -> None:
    with _LOCK:
        running = [m for m in _RUNNING if m.alive]
    for m in running:
        assert m._proc is not None
        m._proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for m in running:
        assert m._proc is not None
        try:
            m._proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            m._proc.kill()


atexit.register(_stop_all_at_exit)


def _run(script: str, settings: str) -> None:
    import runpy

    parent = os.getppid()
    stopping = threading.Event()

    def interrupt(_sig: int, _frame: object) -> None:
        if not stopping.is_set():  # once: a second signal must not cut close() short
            stopping.set()
            raise KeyboardInterrupt

    def watch_parent() -> None:  # the kernel is gone: stop as if told to
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(15)
        os._exit(1)

    signal.signal(signal.SIGTERM, interrupt)
    threading.Thread(target=watch_parent, daemon=True).start()
    sys.argv = [script, settings]
    sys.path.insert(0, str(Path(script).resolve().parent))  # as `python script.py` would
    with contextlib.suppress(KeyboardInterrupt):  # stopped: a normal end
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":  # python -m labkit.members SCRIPT - (the settings on stdin)
    _run(sys.argv[1], sys.stdin.read() if sys.argv[2] == "-" else sys.argv[2])
