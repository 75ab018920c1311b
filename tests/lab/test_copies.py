"""Student copies: no solution left, nothing else changed, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from labkit.lab import NOTEBOOKS
from labkit.lab.copies import NOTE, is_solution, write_student_copies
from tests.conftest import assert_one_line_error, run_cli


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_every_lesson_is_copied_without_its_solutions(tmp_path: Path) -> None:
    removed = write_student_copies(NOTEBOOKS, tmp_path)
    lessons = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert sorted(removed) == lessons
    assert sum(removed.values()) >= 2 * 5  # lessons 00-04 alone have 2+ exercises each
    for name in lessons:
        original, copy = _cells(NOTEBOOKS / name), _cells(tmp_path / name)
        solutions = [c for c in original if is_solution(c)]
        assert removed[name] == len(solutions)
        assert not [c for c in copy if "%%solution" in "".join(c["source"])]
        kept = [c for c in original if not is_solution(c)]
        assert [c for c in copy if NOTE not in "".join(c["source"])] == kept  # the rest as is
        assert all(c.get("outputs", []) == [] for c in copy)
        assert len({c["id"] for c in copy}) == len(copy)
        nbformat.validate(nbformat.read(tmp_path / name, as_version=4))


def test_a_solution_is_found_by_its_tag_or_its_magic() -> None:
    assert is_solution({"cell_type": "code", "source": ["%%solution\n", "x = 1"]})
    assert is_solution({"cell_type": "code", "source": ["x"], "metadata": {"tags": ["solution"]}})
    assert not is_solution({"cell_type": "markdown", "source": ["%%solution"]})
    assert not is_solution({"cell_type": "code", "source": ["# %%solution is a magic"]})
    assert is_solution({"cell_type": "code", "source": ["%%requires disk\n", "%%solution\n"]})
    assert not is_solution({"cell_type": "code", "source": ["%%requires disk\n", "x = 1"]})


def test_existing_copies_are_kept_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "class"
    target.mkdir()
    mine = target / "00-events-and-the-log.ipynb"
    mine.write_text("my work")
    assert_one_line_error(run_cli("notebooks", "--student", str(target)),
                          "already holds 00-events-and-the-log.ipynb", "--force")
    assert mine.read_text() == "my work" and len(list(target.iterdir())) == 1
    out = run_cli("notebooks", "--student", str(target), "--force")
    assert out.returncode == 0 and "student copies" in out.stdout
    assert not [c for c in _cells(mine) if is_solution(c)]  # replaced by the student copy


def test_a_broken_lesson_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "lessons"
    source.mkdir()
    for p in sorted(NOTEBOOKS.glob("0[0-1]-*.ipynb")):
        (source / p.name).write_text(p.read_text())
    (source / "02-broken.ipynb").write_text("{not json")
    out = run_cli("notebooks", "--student", str(tmp_path / "out"), "--notebooks", str(source))
    assert_one_line_error(out, "02-broken.ipynb is not a readable notebook")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_copy_inside_the_lessons_is_refused() -> None:
    assert_one_line_error(run_cli("notebooks", "--student", str(NOTEBOOKS / "students")),
                          "inside the lessons' folder")
    assert not (NOTEBOOKS / "students").exists()
