"""Rules every lesson keeps, read from the notebooks' sources (no kernel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).parents[2] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
LABKIT_MAGICS = ("%%solution", "%%requires")  # registered by `import labkit`


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.name[:2])
def test_labkit_magics_come_after_labkit_is_imported(lesson: Path) -> None:
    """A cell magic the kernel does not know yet is a UsageError that nbval lets pass: the
    cell, and every cell like it, would silently not run."""
    imported = False
    for n, cell in enumerate(json.loads(lesson.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if not imported:
            assert not source.lstrip().startswith(LABKIT_MAGICS), (
                f"{lesson.name} cell {n} uses a labkit magic before `import labkit`")
        imported = imported or "import labkit" in source
    assert imported, f"{lesson.name} never imports labkit"
