from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labkit.cluster.java import find_java, parse_java_version
from labkit.exceptions import JavaNotFoundError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('openjdk version "17.0.15" 2025-04-15', ("17.0.15", 17)),
        ('java version "1.8.0_412"', ("1.8.0_412", 8)),
        ('openjdk version "21" 2023-09-19', ("21", 21)),
        ("no version here", None),
    ],
)
def test_parse_java_version(text: str, expected: tuple[str, int] | None) -> None:
    assert parse_java_version(text) == expected


def _fake_jdk(tmp_path: Path, version: str) -> Path:
    """A JAVA_HOME whose bin/java reports ``version`` (only the version check runs it)."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f'#!/bin/sh\necho \'openjdk version "{version}" 2020-01-01\' >&2\n')
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return tmp_path / "jdk"


def test_real_java_is_17_or_newer() -> None:
    find_java.cache_clear()
    java = find_java()
    assert java.major >= 17 and java.path.exists()


def test_old_java_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JavaNotFoundError, match=r"Java 17 or newer, found Java 11\.0\.2"):
        find_java(str(_fake_jdk(tmp_path, "11.0.2")))


def test_java_home_without_java(tmp_path: Path) -> None:
    with pytest.raises(JavaNotFoundError, match="has no bin/java"):
        find_java(str(tmp_path))


def test_no_java_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(JavaNotFoundError, match="not found on PATH") as info:
        find_java(None, str(tmp_path))
    assert "Hint:" in str(info.value) and os.linesep not in str(info.value)


def test_cache_follows_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing JAVA_HOME in a running kernel takes effect (the cache is per JAVA_HOME)."""
    old = _fake_jdk(tmp_path / "a", "11.0.2")
    new = _fake_jdk(tmp_path / "b", "21.0.1")
    monkeypatch.setenv("JAVA_HOME", str(new))
    assert find_java().major == 21
    monkeypatch.setenv("JAVA_HOME", str(old))
    with pytest.raises(JavaNotFoundError, match="found Java 11"):
        find_java()
    monkeypatch.setenv("JAVA_HOME", str(new))
    assert find_java() is find_java()  # cached for the same JAVA_HOME
