"""Starting JupyterLab on the lessons, the one way `make lab` and the browser test both use.

JupyterLab asks every new user "Would you like to get notified about official Jupyter news?"
(its ``@jupyterlab/apputils-extension:announcements`` plugin). The lab turns that plugin off
through a settings folder of its own (``--LabApp.app_settings_dir``: ``page_config.json``
disables the plugin, ``overrides.json`` sets the notification settings' defaults to no news
and no update checks) and ``--LabApp.news_url=None`` (the server fetches no feed).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
"""The JupyterLab plugin that asks about news and checks for updates."""

SETTINGS_FILES = {
    "page_config.json": {"disabledExtensions": [ANNOUNCEMENTS]},
    "overrides.json": {"@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false", "checkForUpdates": False}},
}


def lab_settings_dir(home: Path | None = None) -> Path:
    """The JupyterLab settings folder of the lab (in ``LABKIT_HOME``), written if needed."""
    if home is None:
        from labkit.settings import Settings

        home = Settings.from_env().home
    folder = home / "jupyterlab" / "settings"
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in SETTINGS_FILES.items():
        text = json.dumps(content, indent=2) + "\n"
        path = folder / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    return folder


def jupyter_command(*, port: int = 8888, token: str | None = None,
                    notebooks: Path = NOTEBOOKS, settings_dir: Path | None = None) -> list[str]:
    """``jupyter lab`` on 127.0.0.1 serving ``notebooks/``, without opening a browser or asking
    about Jupyter news. ``token=None`` keeps Jupyter's own random token (printed in the URL).
    ``settings_dir``: the JupyterLab settings folder (default: :func:`lab_settings_dir`)."""
    settings_dir = lab_settings_dir() if settings_dir is None else settings_dir
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebooks}",
        # lets scripted browsers reach the app's command registry (run all cells)
        "--LabApp.expose_app_in_browser=True",
        # no "get notified about official Jupyter news?" pop-up, no news fetched
        f"--LabApp.app_settings_dir={settings_dir}", "--LabApp.news_url=None",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines run as root
        cmd.append("--ServerApp.allow_root=True")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    return cmd
