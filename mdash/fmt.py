"""Numbers, ages and durations as people read them: one formatter for the CLI, the TUI and the notebook.

Kept free of pandas at import so the TUI can paint its first screen before the heavy imports load.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_BYTES = ("B", "KiB", "MiB", "GiB", "TiB")


def num(v: float | None) -> float | None:
    """The value as a float, or None for None, NaN and ±Inf (JSON has no NaN)."""
    return None if v is None or math.isnan(v) or math.isinf(v) else float(v)


def unix_seconds(index: Any) -> np.ndarray:
    """Unix seconds of a DatetimeIndex whatever its resolution (pandas 3 defaults to µs)."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8 / 1e9
    return np.asarray(index, dtype=float)


def _long(value: float | None, unit: str = "") -> str:
    """A human reading of a value in its unit: 0.123 s → "123 ms", 0.000465 s → "465 µs", 1.5e9 bytes → "1.4 GiB", 0.02 ratio → "2.00%"."""
    v = num(value)
    if v is None:
        return "—"
    if unit == "s":
        if 0 < abs(v) < 1e-3:
            return f"{v * 1e6:.3g} µs"
        return f"{v * 1000:.3g} ms" if abs(v) < 1 else f"{v:.3g} s"
    if unit in ("bytes", "B"):
        i = 0
        while abs(v) >= 1024 and i < len(_BYTES) - 1:
            v, i = v / 1024, i + 1
        return f"{v:.3g} {_BYTES[i]}"
    if unit in ("bytes/s", "B/s"):
        return _long(v, "bytes") + "/s"
    if unit in ("ratio", "percentunit"):
        return f"{v * 100:.2f}%"
    if unit in ("percent", "%"):
        return f"{v:.1f}%"
    text = f"{v:.4g}"
    for least, size, suffix in ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= least:  # 12345 → "12.35k", never "1.234e+04"
            text = f"{v / size:.4g}{suffix}"
            break
    return f"{text} {unit}" if unit else text


def fmt_value(value: float | None, unit: str = "", *, short: bool = False) -> str:
    """A value in its unit as the CLI shows it; ``short`` fits 6 cells for axes and legends (unit mostly left out)."""
    if not short or value is None or not math.isfinite(value):
        return _long(value, unit)
    if unit in ("ratio", "percentunit"):
        return _fit(value * 100, "%")
    if unit in ("bytes", "B", "percent", "%"):
        return _long(value, unit).replace(" ", "")
    if unit == "s":
        if value == 0:
            return "0"
        if abs(value) < 1e-3:
            return _fit(value * 1e6, "µs")
        return _fit(value * 1000, "ms") if abs(value) < 1 else _fit(value, "s")
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return _fit(value / size, suffix)
    return _fit(value, "")


def _fit(value: float, suffix: str, width: int = 6) -> str:
    """Three significant digits with the suffix, or two when three would not fit the axis width."""
    text = f"{value:.3g}{suffix}"
    return text if len(text) <= width else f"{value:.2g}{suffix}"


def fmt_age(seconds: float | None) -> str:
    """A short age: 4s, 3m, 2h."""
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def fmt_duration(seconds: float) -> str:
    """A range or interval as people write it: 500ms, 2s, 15m, 1h, 24h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:g}s"
