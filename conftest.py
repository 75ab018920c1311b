"""Test-session plumbing shared by tests/ and notebooks/ (nbval).

Marks: every collected test that uses the ``cluster`` fixture (directly or through fixtures such
as ``topic`` and ``group``) and every notebook cell is marked ``cluster`` here, so ``-m "not
cluster"`` deselects exactly the tests that need the real cluster; no test module has to
remember a ``pytestmark``.

If any selected test needs the real cluster, the session attaches to the running lab cluster or
starts one, and stops it at the end only if it started it. A run that deselects ``cluster``
(``make unit``) refuses to get there: it fails at collection instead of starting a cluster, and,
when ``slow`` is deselected too, no code in the test process may launch a Kafka broker JVM.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import pytest

_STARTED: list[object] = []
_NOTEBOOK_SECONDS: dict[str, float] = {}
_BROKER_MAIN = "kafka.Kafka"  # the broker's main class on a node's command line
_FORBID_BROKER: list[str] = []  # non-empty: the reason no Kafka broker may start in this run


def _uses_cluster(item: pytest.Item) -> bool:
    """A notebook cell, or a test whose fixture closure (transitive) includes ``cluster``."""
    if str(getattr(item, "path", "")).endswith(".ipynb"):
        return True
    return "cluster" in getattr(item, "fixturenames", ())


def _needs_cluster(item: pytest.Item) -> bool:
    return item.get_closest_marker("cluster") is not None or _uses_cluster(item)


def _deselects(config: pytest.Config, mark: str) -> bool:
    """Whether this run's ``-m`` expression deselects a test that carries only ``mark``."""
    expr = config.option.markexpr
    if not expr:
        return False
    try:
        from _pytest.mark.expression import Expression

        return not Expression.compile(expr).evaluate(lambda name, /, **kw: name == mark)
    except ImportError:  # pytest moved its expression parser: the plain spelling still works
        return re.search(rf"\bnot\s+{re.escape(mark)}\b", expr) is not None


def _refuse_broker_jvm(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: in a unit run, launching ``java ... kafka.Kafka`` from this process fails."""
    if event != "subprocess.Popen" or not _FORBID_BROKER:
        return
    argv = args[1]
    if isinstance(argv, str | bytes | os.PathLike):
        words = os.fsdecode(argv).split()
    else:
        words = [os.fsdecode(a) if isinstance(a, str | bytes | os.PathLike) else str(a)
                 for a in argv or ()]
    if _BROKER_MAIN in words:
        raise RuntimeError(f"refusing to start a Kafka broker JVM: {_FORBID_BROKER[0]}")


def pytest_configure(config: pytest.Config) -> None:
    if _deselects(config, "cluster") and _deselects(config, "slow"):
        _FORBID_BROKER[:] = [f"-m {config.option.markexpr!r} deselects cluster and slow tests"]
        sys.addaudithook(_refuse_broker_jvm)  # hooks cannot be removed; the list switches it


def pytest_unconfigure(config: pytest.Config) -> None:
    _FORBID_BROKER.clear()


@pytest.hookimpl(tryfirst=True)  # before the mark plugin deselects by -m
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_cluster(item) and item.get_closest_marker("cluster") is None:
            item.add_marker(pytest.mark.cluster)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needing = [item for item in session.items if _needs_cluster(item)]
    if not needing:
        return
    if _deselects(session.config, "cluster"):
        names = ", ".join(item.nodeid for item in needing[:5])
        raise pytest.UsageError(
            f"this run deselects cluster tests (-m {session.config.option.markexpr!r}) but "
            f"{len(needing)} selected test(s) need the lab cluster ({names}); refusing to "
            "start or attach to it: mark them 'cluster' or have them request the fixture"
        )
    import labkit

    cluster = labkit.connect()
    if cluster.started_here:
        _STARTED.append(cluster)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    while _STARTED:
        _STARTED.pop().down()  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each notebook's cell times (nbval reports one item per cell)."""
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] = _NOTEBOOK_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _NOTEBOOK_SECONDS:
        terminalreporter.section("lesson run times (budget in CI: 90 s each, 120 s from "
                                 "lesson 05 on, 150 s from lesson 09 on)")
        for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
            name = path.rsplit("/", 1)[-1]
            number = int(name[:2]) if name[:2].isdigit() else 0
            budget = 150 if number >= 9 else 120 if number >= 5 else 90
            flag = "" if seconds <= budget else "  OVER BUDGET"
            terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")
