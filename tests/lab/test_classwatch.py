"""The instructor's live table (the real one runs in tests/test_classroom.py)."""

from __future__ import annotations

import pandas as pd

from labkit.lab.classwatch import render


def test_the_table_shows_each_students_figures_and_checks() -> None:
    grid = pd.DataFrame({"partition_count": ["✓", ""]},
                        index=pd.Index(["s01", "s02"], name="student"))
    rows = [{"student": "s01", "passed": 1, "topics": 2, "lag": 1500, "throttle_ms": 2549.4},
            {"student": "s02", "passed": 0, "topics": 0, "lag": 0, "throttle_ms": None}]
    page = render(grid, rows, 0.0)
    assert "<th>throttle ms</th>" in page and "<th>partition_count</th>" in page
    s01, s02 = page.split("<tr><th>s01</th>")[1], page.split("<tr><th>s02</th>")[1]
    assert s01.startswith("<td>1</td><td>2</td><td>1,500</td><td>2,549</td>"), s01
    assert "✓" in s01.split("</tr>")[0]
    assert s02.startswith("<td>0</td><td>0</td><td>0</td><td>?</td>"), s02  # unknown: '?'
