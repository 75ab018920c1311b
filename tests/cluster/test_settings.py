from __future__ import annotations

from pathlib import Path

import pytest

from labkit.exceptions import SettingsError
from labkit.settings import Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LABKIT_HOME", "LABKIT_BACKEND", "LABKIT_NODES", "LABKIT_BASE_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.from_env()
    assert s.home == Path.home() / ".cache" / "labkit"
    assert (s.backend, s.nodes, s.base_port) == ("auto", 3, None)


def test_env_twins_and_keyword_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.setenv("LABKIT_NODES", "1")
    monkeypatch.setenv("LABKIT_BASE_PORT", "20000")
    monkeypatch.setenv("LABKIT_TIME_SCALE", "0.25")
    s = Settings.from_env()
    assert (s.home, s.nodes, s.base_port, s.time_scale) == (tmp_path, 1, 20000, 0.25)
    assert Settings.from_env(nodes=3).nodes == 3
    assert s.scaled(10) == 2.5


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("LABKIT_NODES", "2", "1 or 3"),
        ("LABKIT_NODES", "three", "not a whole number"),
        ("LABKIT_BASE_PORT", "80", "out of range"),
        ("LABKIT_BACKEND", "kubernetes", "unknown backend 'kubernetes'"),
        ("LABKIT_TIME_SCALE", "0", "out of range"),
    ],
)
def test_bad_values_say_what_and_how(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=needle) as info:
        Settings.from_env()
    assert "\n" not in str(info.value)


def test_external_needs_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("LABKIT_BACKEND", "external")
    with pytest.raises(SettingsError, match="LABKIT_BOOTSTRAP_SERVERS"):
        Settings.from_env()
