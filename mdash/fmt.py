"""Numbers, ages and durations as people read them: one formatter for the CLI, the TUI and the notebook.

Kept free of pandas at import so the TUI can paint its first screen before the heavy imports load.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def num(v: float | None) -> float | None:
    """The value as a float, or None for None, NaN and ±Inf (JSON has no NaN)."""
    return None if v is None or math.isnan(v) or math.isinf(v) else float(v)


def unix_seconds(index: Any) -> np.ndarray:
    """Unix seconds of a DatetimeIndex whatever its resolution (pandas 3 defaults to µs)."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8 / 1e9
    return np.asarray(index, dtype=float)


SECONDS = ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"), (86400.0, "d"))
COUNTS = ((1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T"), (1e15, "P"), (1e18, "E"))
BYTES = tuple((1024.0**i, name) for i, name in enumerate(("B", "KiB", "MiB", "GiB", "TiB")))


def _scale(v: float, ladder: tuple[tuple[float, str], ...], digits: int, first: float = 1000.0) -> tuple[float, str]:
    """``v`` in the first unit of ``ladder`` where it stays below 1000 (``first`` for the first unit) once rounded
    to ``digits``, the last unit otherwise. Rounding before choosing keeps 0.99996 ms from reading "1e+03 µs"."""
    for i, (size, suffix) in enumerate(ladder[:-1]):
        if abs(float(f"{v / size:.{digits}g}")) < (first if i == 0 else 1000.0):
            return v / size, suffix
    return v / ladder[-1][0], ladder[-1][1]


def _long(value: float | None, unit: str = "") -> str:
    """A human reading of a value in its unit: 0.123 s → "123 ms", 0.000465 s → "465 µs", 1.5e9 bytes →
    "1.4 GiB", 0.02 ratio → "2.00%", 12345 req/s → "12.35k req/s"."""
    v = num(value)
    if v is None:
        return "—"
    if unit == "s":
        x, suffix = _scale(v, SECONDS, 3) if v else (0.0, "ms")
        return f"{x:.3g} {suffix}"
    if unit in ("bytes", "B"):
        x, suffix = _scale(v, BYTES, 3)
        return f"{x:.3g} {suffix}"
    if unit in ("bytes/s", "B/s"):
        return _long(v, "bytes") + "/s"
    if unit in ("ratio", "percentunit"):
        return f"{v * 100:.2f}%"
    if unit in ("percent", "%"):
        return f"{v:.1f}%"
    x, suffix = _scale(v, COUNTS, 4, first=1e4)  # up to 9999 as is, then k, M, G, T
    text = f"{x:.4g}{suffix}"
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
        return _fit(*_scale(value, SECONDS, 3)) if value else "0"
    return _fit(*_scale(value, COUNTS, 3))


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
