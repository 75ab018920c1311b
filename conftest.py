"""Test-session plumbing shared by tests/ and notebooks/ (nbval).

If any collected test needs the real cluster (a ``cluster`` fixture user, a ``cluster``-marked
test, or a notebook), the session attaches to the running lab cluster or starts one, and stops
it at the end only if it started it.
"""

from __future__ import annotations

import pytest

_STARTED: list[object] = []
_NOTEBOOK_SECONDS: dict[str, float] = {}


def _needs_cluster(item: pytest.Item) -> bool:
    if item.get_closest_marker("cluster") is not None:
        return True
    if "cluster" in getattr(item, "fixturenames", ()):
        return True
    return str(getattr(item, "path", "")).endswith(".ipynb")


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or not any(map(_needs_cluster, session.items)):
        return
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
        terminalreporter.section("lesson run times (budget: 90 s each in CI)")
        for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
            flag = "" if seconds <= 90 else "  OVER BUDGET"
            terminalreporter.write_line(f"{seconds:6.1f} s  {path}{flag}")
