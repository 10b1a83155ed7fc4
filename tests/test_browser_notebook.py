"""quickstart.ipynb in a real JupyterLab and a real headless Chromium: the FigureWidgets draw and then move.

Widgets that look right on the Python side can still render blank in the page (plotly/plotly.py#4998), so this
test looks at the DOM: drawn ``.js-plotly-plot`` charts with line paths in the Performance tab, whose paths
change after a refresh. The screenshot is kept in the test's temp dir as a CI artifact.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import needs_prometheus
from selenium.webdriver.common.by import By

from mdash.demo.prometheus import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"

pytestmark = [
    pytest.mark.browser,
    needs_prometheus,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason="needs Debian's chromium and chromium-driver (CI installs them)"),
    pytest.mark.timeout(240),
]

# each drawn chart in the visible tab of the mdash widget: its width, its line paths, and how many of its
# subplots (one per panel) have a drawn line
LINES_JS = """
const out = [];
for (const plot of document.querySelectorAll('.jp-OutputArea .widget-tab .js-plotly-plot')) {
  if (!plot.offsetParent) continue;  // in a hidden tab
  const drawn = sel => [...plot.querySelectorAll(sel)].map(p => p.getAttribute('d') || '').filter(d => d.length > 20);
  const subplots = [...plot.querySelectorAll('.cartesianlayer .subplot')]
    .filter(s => [...s.querySelectorAll('path.js-line')].some(p => (p.getAttribute('d') || '').length > 20));
  out.push({paths: drawn('path.js-line'), subplots: subplots.length, width: plot.getBoundingClientRect().width});
}
return out;
"""

# the line paths of the static fallback's figures (in the last cell's output), one string per figure
STATIC_JS = """
const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
return [...cells[cells.length - 1].querySelectorAll('.jp-OutputArea .js-plotly-plot')].map(p => [...p.querySelectorAll('path.js-line')].map(x => x.getAttribute('d') || '').join('|'));
"""


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):
    """Poll ``condition()`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on 127.0.0.1 with a token and a temp root holding quickstart.ipynb; stopped by PID."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = free_port(), secrets.token_hex(16)
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get Jupyter news?" prompt over the screenshot (and no fetch)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
        "--allow-root",
    ]
    log = open(tmp_path / "jupyterlab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base, token), 60, "JupyterLab to answer /api/status")
        yield base, token, proc
    finally:
        for kernel in _safe(lambda: api(base, token, "/api/kernels")) or []:
            _safe(lambda k=kernel: api(base, token, f"/api/kernels/{k['id']}", "DELETE"))
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _up(base: str, token: str) -> bool:
    return _safe(lambda: api(base, token, "/api/status")) is not None


def _safe(call):
    try:
        return call()
    except OSError:
        return None


@pytest.fixture
def browser(tmp_path):
    """Headless Debian chromium driven by Debian's chromedriver, with a fresh profile; quit at teardown."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1100", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.save_screenshot(str(tmp_path / "last.png"))  # what the page looked like, pass or fail
        driver.quit()


def test_quickstart_draws_live_plotly_charts_in_a_real_browser(jupyterlab, browser, tmp_path):
    base, token, server = jupyterlab
    browser.get(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
    wait_for(lambda: browser.execute_script(
        "return !!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))"), 60, "the notebook to open")
    wait_for(lambda: browser.execute_script(
        "const w = jupyterapp.shell.currentWidget;"
        "return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel);"),
        60, "the kernel to start")
    browser.execute_script("jupyterapp.commands.execute('application:toggle-left-area');"
                           "jupyterapp.commands.execute('notebook:run-all-cells')")

    def drawn():
        charts = browser.execute_script(LINES_JS)
        return charts if charts and all(c["paths"] and c["width"] > 100 for c in charts) else None

    first = wait_for(drawn, 120, "a drawn Performance chart with line paths")
    browser.save_screenshot(str(tmp_path / "quickstart-first.png"))
    assert len(first) == 1, "the Performance tab is one figure"
    assert first[0]["subplots"] >= 4, f"expected the Performance panels drawn, got {first[0]['subplots']}"

    browser.execute_script(
        "document.querySelector('.jp-OutputArea .widget-tab').scrollIntoView();"
        "[...document.querySelectorAll('.jp-OutputArea button')].find(b => b.textContent.includes('Refresh now')).click()"
    )
    wait_for(lambda: (now := drawn()) and [c["paths"] for c in now] != [c["paths"] for c in first],
             30, "the charts to change after a refresh")
    shot = tmp_path / "quickstart.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")

    # a tab that was hidden while its figure was built must still draw when opened (the plotly#4998 family)
    browser.execute_script("window.mdashPerformance = [...document.querySelectorAll("
                           "'.jp-OutputArea .widget-tab .js-plotly-plot')].find(p => p.offsetParent)")
    tab = browser.find_element(By.XPATH, "//*[contains(@class,'jp-OutputArea')]//li[contains(@class,'lm-TabBar-tab')][contains(., 'Resources')]")
    tab.click()  # a real mouse click: Lumino's tab bar listens to pointer events
    wait_for(lambda: "lm-mod-current" in tab.get_attribute("class"), 10, "the Resources tab to open")
    resources = wait_for(lambda: browser.execute_script(
        "const p = [...document.querySelectorAll('.jp-OutputArea .widget-tab .js-plotly-plot')].find(p => p.offsetParent);"
        "return p && p !== window.mdashPerformance ? p.querySelectorAll('path.js-line').length : 0"), 30,
        "the Resources tab's chart to draw its lines")
    assert resources >= 1
    browser.save_screenshot(str(tmp_path / "quickstart-resources.png"))

    # the no-widget fallback: static figures redrawn in place through display handles must move too
    browser.execute_script(
        "const app = jupyterapp; app.commands.execute('notebook:insert-cell-below').then(() => {"
        "  app.shell.currentWidget.content.activeCell.model.sharedModel.setSource(\"dash.show(mode='static')\");"
        "  app.commands.execute('notebook:run-cell'); });")
    static = wait_for(lambda: (v := browser.execute_script(STATIC_JS)) and all(v) and v, 60, "the static figures to draw")
    wait_for(lambda: browser.execute_script(STATIC_JS) != static, 30, "the static figures to redraw in place")
    browser.save_screenshot(str(tmp_path / "quickstart-static.png"))

    # the demo the kernel started must go away with the kernel
    children = psutil.Process(server.pid).children(recursive=True)
    assert children, "the kernel and the demo should be running under the server"
    for kernel in api(base, token, "/api/kernels"):
        api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after the kernel was shut down: {[p.pid for p in alive]}"
