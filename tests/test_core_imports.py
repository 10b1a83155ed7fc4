"""The core never imports a screen library: importing it in a fresh interpreter loads no textual/plotly/ipywidgets/rich."""

from __future__ import annotations

import subprocess
import sys

CORE = ["mdash.config", "mdash.panels", "mdash.dashboard", "mdash.render", "mdash.anomaly", "mdash.sources.prometheus",
        "mdash.sources.endpoint", "mdash.sources.host", "mdash.sources.scrape", "mdash.presets", "mdash.expr", "mdash.fmt",
        "mdash.canary",
        "mdash.actions", "mdash.commands.snapshot", "mdash.commands.check"]
UI = ("textual", "plotly", "ipywidgets", "rich")


def test_core_modules_import_no_ui_library():
    code = f"""
import importlib, sys
for name in {CORE!r}:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {UI!r})
assert 'mdash.dashboard' in sys.modules
print(','.join(loaded))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "", f"UI libraries imported by the core: {out.stdout.strip()}"


def test_tui_first_screen_waits_for_no_data_library():
    """Everything `mdash tui` does before its first paint (parse args, build the app) loads no pandas, scipy or
    HTTP client: those cost ~0.3 s and are imported by the connect thread while the screen already shows."""
    code = """
import sys
from mdash.cli import build_parser
from mdash.tui.app import MdashApp
build_parser().parse_args(["tui"])
MdashApp(connect=lambda: None)
print(','.join(sorted(m for m in ('pandas', 'scipy', 'aiohttp', 'httpx', 'prometheus_api_client', 'mdash.config')
                      if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "", f"imported before the first screen: {out.stdout.strip()}"
