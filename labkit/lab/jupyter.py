"""Starting JupyterLab on the lessons, the one way `make lab` and the browser test both use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def jupyter_command(*, port: int = 8888, token: str | None = None,
                    notebooks: Path = NOTEBOOKS) -> list[str]:
    """``jupyter lab`` on 127.0.0.1 serving ``notebooks/``, without opening a browser.
    ``token=None`` keeps Jupyter's own random token (printed in the URL)."""
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={notebooks}",
        # lets scripted browsers reach the app's command registry (run all cells)
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines run as root
        cmd.append("--ServerApp.allow_root=True")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    return cmd
