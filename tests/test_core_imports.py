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
