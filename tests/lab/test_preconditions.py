"""check.still_running: a stopped producer or service says which cell to run again."""

from __future__ import annotations

import pytest

from labkit import check
from labkit.exceptions import StateError, UsageError


class _Handle:
    def __init__(self, running: bool, errors: list[str] | None = None) -> None:
        self.running, self.errors, self.topic = running, errors or [], "accounts"


def test_a_running_handle_passes_through() -> None:
    h = _Handle(True)
    assert check.still_running(h, rerun="section 1") is h


def test_a_stopped_handle_names_the_cell_to_run_again() -> None:
    with pytest.raises(StateError, match=r"'accounts' is not running any more.*Run again "
                                         r"section 1's cell, then this cell"):
        check.still_running(_Handle(False), rerun="section 1's cell")
    with pytest.raises(StateError, match="after an error: boom"):
        check.still_running(_Handle(False, ["boom"]), rerun="section 1")


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs the cell to run again"):
        check.still_running(_Handle(True), rerun=" ")
    with pytest.raises(UsageError, match="not int"):
        check.still_running(3, rerun="x")
