from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from labkit.cluster import jars
from labkit.cluster.jars import COMPLETE_MARKER, cache_dir, find_libs, parse_sha512
from labkit.exceptions import ChecksumError, KafkaJarsError, MavenResolutionError
from labkit.settings import Settings


def _release(tmp_path: Path, version: str, *, corrupt_sha: bool = False) -> str:
    """A tiny release tarball laid out like Apache's, with a .sha512 in Apache's format;
    returns its mirror URL (file://)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    jar = buf.getvalue()
    mirror = tmp_path / "mirror"
    folder = mirror / version
    folder.mkdir(parents=True)
    tgz = folder / f"kafka_2.13-{version}.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name in (f"kafka_2.13-{version}.jar", "kafka-clients-x.jar"):
            info = tarfile.TarInfo(f"kafka_2.13-{version}/libs/{name}")
            info.size = len(jar)
            tar.addfile(info, io.BytesIO(jar))
    digest = hashlib.sha512(tgz.read_bytes()).hexdigest().upper()
    if corrupt_sha:
        digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    groups = " ".join(digest[i : i + 4] for i in range(0, 128, 4))
    (folder / f"{tgz.name}.sha512").write_text(f"{tgz.name}: {groups[:60]}\n    {groups[60:]}\n")
    return f"file://{mirror}"


def _no_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    real = jars.shutil.which
    monkeypatch.setattr(jars.shutil, "which", lambda n, *a, **k: None if n == "mvn" else real(n))


def test_parse_sha512_both_layouts() -> None:
    h = "ab" * 64
    assert parse_sha512(f"{h}  kafka.tgz\n") == h
    spaced = " ".join(h.upper()[i : i + 8] for i in range(0, 128, 8))
    assert parse_sha512(f"kafka_2.13-4.1.1.tgz: {spaced}\n") == h
    with pytest.raises(ChecksumError):
        parse_sha512("kafka.tgz: 1234")


def test_kafka_home_without_jars(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "home", kafka_home=tmp_path)
    with pytest.raises(KafkaJarsError, match=r"has no libs/kafka_2\.13"):
        find_libs(s)


def test_release_tarball_is_checked_and_installed(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _no_maven(monkeypatch)
    s = Settings(home=tmp_path / "home", kafka_version="9.9.9",
                 kafka_mirror=_release(tmp_path, "9.9.9"))
    libs = find_libs(s)
    assert (libs / "kafka_2.13-9.9.9.jar").exists()
    assert (cache_dir(s) / COMPLETE_MARKER).exists()
    assert not list(s.home.glob(".fetch-*"))


def test_checksum_mismatch_installs_nothing(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _no_maven(monkeypatch)
    s = Settings(home=tmp_path / "home", kafka_version="9.9.9",
                 kafka_mirror=_release(tmp_path, "9.9.9", corrupt_sha=True))
    with pytest.raises(KafkaJarsError, match="does not match its published SHA-512"):
        find_libs(s)
    assert not cache_dir(s).exists()
    assert not list(s.home.glob(".fetch-*"))


def test_no_source_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_maven(monkeypatch)
    s = Settings(home=tmp_path / "home", kafka_mirror=f"file://{tmp_path}/nowhere")
    with pytest.raises(KafkaJarsError, match="no source for the Kafka") as info:
        find_libs(s)
    assert "Maven (mvn) is not on PATH" in str(info.value)
    assert "Hint:" in str(info.value)
    assert not cache_dir(s).exists()


def test_leftover_without_marker_is_not_trusted(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _no_maven(monkeypatch)
    s = Settings(home=tmp_path / "home", kafka_version="9.9.9",
                 kafka_mirror=_release(tmp_path, "9.9.9"))
    half = cache_dir(s) / "libs"
    half.mkdir(parents=True)
    (half / "partial.jar").write_bytes(b"")
    libs = find_libs(s)
    assert not (libs / "partial.jar").exists()
    assert (libs / "kafka_2.13-9.9.9.jar").exists()


@pytest.mark.slow
def test_maven_failure_names_the_artifact(tmp_path: Path) -> None:
    if jars.shutil.which("mvn") is None:
        pytest.skip("Maven is not installed")
    s = Settings(home=tmp_path / "home", kafka_version="4.0.99",
                 kafka_mirror=f"file://{tmp_path}/nowhere")
    with pytest.raises(MavenResolutionError, match=r"org\.apache\.kafka:kafka_2\.13:jar:4\.0\.99"):
        find_libs(s)
    assert not cache_dir(s).exists()
