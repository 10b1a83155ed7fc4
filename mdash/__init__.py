"""mdash: an observability dashboard for deployed ML models, in the terminal and in Jupyter.

The public face is small and imported lazily, so ``import mdash`` stays cheap::

    dash = mdash.connect(prometheus="http://127.0.0.1:9090")   # or config=..., endpoint=..., or nothing: demo
    snap = dash.snapshot()
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "connect": "mdash.notebook",
    "Dashboard": "mdash.dashboard",
    "Snapshot": "mdash.panels",
    "PanelResult": "mdash.panels",
    "PanelSpec": "mdash.panels",
    "load_config": "mdash.config",
    "canary": "mdash.canary",
    "rollback": "mdash.actions",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        attr = "load" if name == "load_config" else name
        return getattr(module, attr)
    raise AttributeError(f"module 'mdash' has no attribute {name!r}")
