"""Student copies of the lessons (nbgrader style): every ``%%solution`` cell is taken out and
a short note left where it was, outputs and execution counts are cleared, everything else
is kept as it is. One source (``notebooks/``), two views: instructors keep the solutions
(``make html``, ``LABKIT_SOLUTIONS=1``), students get copies that do not contain them.

Nothing is half-written: the copies are made in a temporary folder beside the target and
moved into place only when every lesson was copied; an existing copy is replaced only with
``force=True``.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from labkit.exceptions import NotFoundError, UsageError

__all__ = ["is_solution", "student_copy", "write_student_copies"]

NOTE = ("*The solution of this exercise is not in the student copy: write yours in the cell "
        "above; the check below tells you whether it holds.*")


def is_solution(cell: dict[str, Any]) -> bool:
    """A solution cell: tagged ``solution`` or run by the ``%%solution`` magic (its first
    line, or after another cell magic: ``%%requires disk`` then ``%%solution``)."""
    if cell.get("cell_type") != "code":
        return False
    lines = "".join(cell.get("source", [])).lstrip().splitlines()
    magics = itertools.takewhile(lambda line: line.startswith("%%"), lines)
    tags = cell.get("metadata", {}).get("tags", [])
    return "solution" in tags or any(m.split()[0] == "%%solution" for m in magics)


def student_copy(notebook: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A copy of ``notebook`` (nbformat 4 as a dict) without its solutions, and how many
    solution cells it took out."""
    cells, removed = [], 0
    for cell in notebook.get("cells", []):
        if is_solution(cell):
            removed += 1
            cells.append({"cell_type": "markdown", "id": f"{cell.get('id', removed)}-note",
                          "metadata": {}, "source": [NOTE]})
            continue
        cell = json.loads(json.dumps(cell))  # a deep copy, ids kept
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    meta = {**notebook.get("metadata", {}), "labkit": {"student_copy": True}}
    return {**notebook, "cells": cells, "metadata": meta}, removed


def _lessons(source: Path) -> list[Path]:
    if not source.is_dir():
        raise NotFoundError(f"{source} is not a folder of lessons; run from the repository "
                            "or pass the lessons' folder")
    found = sorted(p for p in source.glob("[0-9][0-9]-*.ipynb"))
    if not found:
        raise NotFoundError(f"no lessons (NN-name.ipynb) in {source}")
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is not a readable notebook ({exc}); restore it with "
                         f"'git checkout -- {path.name}'") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise UsageError(f"{path} is not a Jupyter notebook; restore it with git")
    return data


def write_student_copies(source: Path, target: Path, *, force: bool = False) -> dict[str, int]:
    """Write a student copy of every lesson in ``source`` into ``target``; returns the
    number of solutions taken out per lesson file name."""
    source, target = source.resolve(), target.resolve()
    if target == source or source in target.parents:
        raise UsageError(f"{target} is inside the lessons' folder; choose a folder outside "
                         f"{source}")
    lessons = _lessons(source)
    taken = [p.name for p in lessons if (target / p.name).exists()]
    if taken and not force:
        raise UsageError(f"{target} already holds {taken[0]}"
                         f"{f' and {len(taken) - 1} more' if len(taken) > 1 else ''}; "
                         "choose another folder or pass --force to replace them")
    copies = {p.name: student_copy(_read(p)) for p in lessons}  # all read before any write
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".labkit-copies-", dir=target))
    try:
        for name, (nb, _removed) in copies.items():
            text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
            (staging / name).write_text(text, encoding="utf-8")
        for name in copies:
            (staging / name).replace(target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: removed for name, (_nb, removed) in copies.items()}
