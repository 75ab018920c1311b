"""`labkit lab`: the JupyterLab command line, without the Jupyter news pop-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labkit.lab.jupyter import ANNOUNCEMENTS, jupyter_command, lab_settings_dir


def test_command_turns_off_the_news_pop_up(tmp_path: Path) -> None:
    settings = lab_settings_dir(tmp_path)
    cmd = jupyter_command(port=8899, token="t", notebooks=tmp_path, settings_dir=settings)
    assert cmd[1:4] == ["-m", "jupyter", "lab"]
    assert "--no-browser" in cmd and "--ServerApp.port=8899" in cmd
    assert f"--LabApp.app_settings_dir={settings}" in cmd
    assert "--LabApp.news_url=None" in cmd
    assert "--IdentityProvider.token=t" in cmd
    page = json.loads((settings / "page_config.json").read_text())
    assert page["disabledExtensions"] == [ANNOUNCEMENTS]
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert lab_settings_dir(tmp_path) == settings  # written once, the same folder again


def test_default_settings_folder_is_in_labkit_home(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    cmd = jupyter_command(notebooks=tmp_path)
    folder = tmp_path / "jupyterlab" / "settings"
    assert f"--LabApp.app_settings_dir={folder}" in cmd
    assert (folder / "page_config.json").is_file()
