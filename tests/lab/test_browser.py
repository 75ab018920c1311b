"""A real browser: JupyterLab started as `make lab` starts it, opened in headless Chromium
(Debian's package, driven by Playwright with executable_path), runs a lesson and sees its live
chart rendered. The screenshot is kept in artifacts/ for people to look at."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.lab import NOTEBOOKS, jupyter_command

pytestmark = [pytest.mark.cluster, pytest.mark.browser]

# lesson 00: the page, the kernel and a live chart, without lesson 01's rate measurements
# (in one CI run of 3, a browser drawing beside them on 2 cores made lesson 01 measure 0.77,
# far behind vs at the tail, and fail its 0.8 bound; nbval runs lesson 01 in full anyway)
LESSON = os.environ.get("LABKIT_BROWSER_NOTEBOOK", "00-events-and-the-log.ipynb")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Chromium is not installed and could not be installed here "
                    "(make test installs Debian's chromium with apt where it can)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_server(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer {url} within {timeout:.0f}s:\n"
                f"{log.read_text()[-2000:]}")


_CELLS_JS = """
  const w = window.jupyterapp.shell.currentWidget;
  const cells = w.content.model.cells;
  const errors = [];
  let ran = cells.length > 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
    if (c.executionCount === null) ran = false;
  }
  const done = errors.length > 0 || (ran && w.sessionContext.session.kernel.status === 'idle');
"""
"""The open notebook's code cells, read from its model: ``errors`` (one line per error
output) and ``done`` (a cell raised, or every code cell ran and the kernel is idle)."""


def test_lesson_runs_in_jupyterlab_and_shows_its_live_chart(cluster: object,
                                                             tmp_path: Path) -> None:
    chromium = _chromium()
    assert (NOTEBOOKS / LESSON).exists(), f"no lesson {LESSON}"
    from playwright.sync_api import sync_playwright

    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyter.log"
    # a throw-away copy: running the lesson in the browser saves outputs into the file
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    with open(log, "wb") as out:
        # a workspace of its own: JupyterLab reopens the tabs of the last one, and the run
        # below is of the current tab
        env = {**os.environ, "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
        proc = subprocess.Popen(jupyter_command(port=port, token=token, notebooks=work),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log, 90)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base}/lab/tree/{LESSON}?token={token}")
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
                # run only once the notebook's kernel is up (a run-all sent earlier is lost)
                page.wait_for_function(
                    """() => {
                      const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                      const k = w && w.sessionContext && w.sessionContext.session
                                && w.sessionContext.session.kernel;
                      return k && k.status === 'idle';
                    }""", timeout=120_000)
                page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
                # from the notebook's model, not the page (JupyterLab renders an error as
                # stderr, and may not render cells out of view): done when a cell raised
                # (run-all stops there) or every code cell has an execution count
                page.wait_for_function(f"() => {{{_CELLS_JS} return done;}}", timeout=300_000)
                errors = page.evaluate(f"() => {{{_CELLS_JS} return errors;}}")
                assert not errors, f"the lesson raised in the browser: {errors[:1]}"
                images = page.locator(".jp-OutputArea-output img")
                assert images.count() >= 1
                img = images.last  # the lesson's last live chart
                ARTIFACTS.mkdir(exist_ok=True)
                shot = ARTIFACTS / f"browser-{Path(LESSON).stem}.png"
                img.evaluate("i => i.scrollIntoView({block: 'center'})")
                page.screenshot(path=str(shot), full_page=False)
                natural = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
                assert natural[0] > 100 and natural[1] > 100, natural  # a real, decoded chart
                assert shot.stat().st_size > 10_000
            finally:
                browser.close()
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
