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


_SECURITY_VARS = ("LABKIT_SECURITY_PROTOCOL", "LABKIT_SASL_MECHANISM", "LABKIT_SASL_USERNAME",
                  "LABKIT_SASL_PASSWORD", "LABKIT_SSL_CA_LOCATION", "LABKIT_COMPOSE_FILE",
                  "LABKIT_SOLUTIONS")


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in _SECURITY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_security_settings_from_env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    clean_env.setenv("LABKIT_SECURITY_PROTOCOL", "sasl_ssl")
    clean_env.setenv("LABKIT_SASL_MECHANISM", "scram-sha-512")
    clean_env.setenv("LABKIT_SASL_USERNAME", "student")
    clean_env.setenv("LABKIT_SASL_PASSWORD", "s3cret-pw")
    clean_env.setenv("LABKIT_SSL_CA_LOCATION", str(ca))
    s = Settings.from_env()
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (s.sasl_username, s.sasl_password, s.ssl_ca_location) == ("student", "s3cret-pw", ca)
    assert s.security_config() == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "student", "sasl.password": "s3cret-pw", "ssl.ca.location": str(ca)}


def test_password_is_masked_in_repr(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings.from_env(security_protocol="SASL_PLAINTEXT", sasl_username="u",
                          sasl_password="s3cret-pw")
    assert "s3cret-pw" not in repr(s) and "sasl_password='***'" in repr(s)
    assert "sasl_username='u'" in repr(s)
    assert "sasl_password=None" in repr(Settings.from_env())


def test_plaintext_by_default(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings.from_env()
    assert s.security_config() == {} and s.solutions is False
    assert s.compose_file.name == "docker-compose.yml" and s.compose_file.is_file()


@pytest.mark.parametrize("word", ["1", "true", "YES", "on"])
def test_solutions_on(clean_env: pytest.MonkeyPatch, word: str) -> None:
    clean_env.setenv("LABKIT_SOLUTIONS", word)
    assert Settings.from_env().solutions is True


@pytest.mark.parametrize("word", ["0", "false", "no", "off"])
def test_solutions_off(clean_env: pytest.MonkeyPatch, word: str) -> None:
    clean_env.setenv("LABKIT_SOLUTIONS", word)
    assert Settings.from_env().solutions is False


def test_compose_file_twin(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "compose.yml"
    other.write_text("services: {}\n")
    clean_env.setenv("LABKIT_COMPOSE_FILE", str(other))
    assert Settings.from_env().compose_file == other


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LABKIT_SECURITY_PROTOCOL": "TLS"}, "LABKIT_SECURITY_PROTOCOL='TLS' is not one of"),
        ({"LABKIT_SASL_MECHANISM": "MD5"}, "LABKIT_SASL_MECHANISM='MD5' is not one of"),
        ({"LABKIT_SECURITY_PROTOCOL": "SASL_SSL", "LABKIT_SASL_USERNAME": "u"},
         "needs LABKIT_SASL_USERNAME and LABKIT_SASL_PASSWORD"),
        ({"LABKIT_SSL_CA_LOCATION": "/nowhere/ca.pem"}, "LABKIT_SSL_CA_LOCATION=/nowhere/ca.pem"),
        ({"LABKIT_COMPOSE_FILE": "/nowhere/compose.yml"}, "LABKIT_COMPOSE_FILE=/nowhere"),
        ({"LABKIT_SOLUTIONS": "maybe"}, "LABKIT_SOLUTIONS='maybe' is not on or off"),
    ],
)
def test_bad_new_values_say_what_and_how(clean_env: pytest.MonkeyPatch, env: dict[str, str],
                                         needle: str) -> None:
    for var, value in env.items():
        clean_env.setenv(var, value)
    with pytest.raises(SettingsError, match=needle) as info:
        Settings.from_env()
    text = str(info.value)
    assert "\n" not in text and ";" in text  # one line: what is wrong; what to do


def test_oauth_needs_no_password(clean_env: pytest.MonkeyPatch) -> None:
    s = Settings.from_env(security_protocol="sasl_ssl", sasl_mechanism="oauthbearer")
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_SSL", "OAUTHBEARER")
