"""The exercise convention, in a real kernel: %%solution runs only with LABKIT_SOLUTIONS=1, and
then a failing check raises (so nbval catches a lesson whose solution stopped working)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]


def _run(cells: list[str], solutions: bool,
         monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    if solutions:
        monkeypatch.setenv("LABKIT_SOLUTIONS", "1")
    else:
        monkeypatch.delenv("LABKIT_SOLUTIONS", raising=False)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") or str(o.get("data", {}).get("text/plain", ""))
                   for o in cell.outputs)


def test_solution_cells_run_only_with_solutions_on(monkeypatch: pytest.MonkeyPatch) -> None:
    cells = ["import labkit\nanswer = None", "%%solution\nanswer = 42", "print('answer', answer)"]
    hidden = _run(cells, solutions=False, monkeypatch=monkeypatch)
    assert "runs only with LABKIT_SOLUTIONS=1" in _text(hidden.cells[1])
    assert "answer None" in _text(hidden.cells[2])
    shown = _run(cells, solutions=True, monkeypatch=monkeypatch)
    assert "answer 42" in _text(shown.cells[2])


def test_failing_check_hints_for_learners_and_raises_with_solutions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from labkit.lab import check

    cells = ["from labkit import check\n"
             "check.state_equals({'a': 1}, {'a': 2})"]
    learner = _run(cells, solutions=False, monkeypatch=monkeypatch)
    assert "✗ state_equals" in _text(learner.cells[0])
    with pytest.raises(CellExecutionError, match="CheckFailed"):
        _run(cells, solutions=True, monkeypatch=monkeypatch)
    # a result is a plain value: making one never raises, even with solutions on
    made = _run(["from labkit.lab.check import CheckResult\n"
                 "CheckResult(False, 'differs', 'x')"], solutions=True, monkeypatch=monkeypatch)
    assert "✗ x" in _text(made.cells[0])
    # outside a notebook kernel (this test process) checks never raise: they are values
    monkeypatch.setenv("LABKIT_SOLUTIONS", "1")
    assert not check.state_equals({"a": 1}, {"a": 2})


def test_a_failing_solution_cell_fails_with_one_traceback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The body's own traceback is shown once; the magic's cell fails too (nbval stops on
    the first error, the real one), in one line rather than a second traceback."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in
                ["import labkit", "%%solution\nraise ValueError('wrong answer')"]]
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("LABKIT_SOLUTIONS", "1")
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    errors = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ValueError", "CellFailed"], errors
    assert len(errors[1].traceback) == 1 and "wrong answer" in errors[1].traceback[0]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(errors[0].traceback))  # no colours
    assert "raise ValueError('wrong answer')" in shown, shown
