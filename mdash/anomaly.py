"""Anomaly flag for a panel: a robust z-score (median and MAD) of its latest value against its own recent history.

Median and MAD ignore the spikes they are looking for, unlike mean and standard deviation; 3.5 is Iglewicz and
Hoaglin's usual cut-off for the modified z-score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

THRESHOLD = 3.5
MIN_HISTORY = 10
_MAD_TO_SIGMA = 1.4826  # MAD of a normal sample times this estimates its standard deviation
_MEANAD_TO_SIGMA = 1.2533  # the same for the mean absolute deviation, used when over half the history is equal


def robust_z(history: np.ndarray, latest: float) -> float | None:
    """How many robust standard deviations ``latest`` lies from the median of ``history`` (None: too little data)."""
    history = history[np.isfinite(history)]
    if len(history) < MIN_HISTORY or not math.isfinite(latest):
        return None
    median = float(np.median(history))
    spread = _MAD_TO_SIGMA * float(np.median(np.abs(history - median)))
    if spread == 0:
        spread = _MEANAD_TO_SIGMA * float(np.mean(np.abs(history - median)))
    if spread == 0:
        return 0.0 if latest == median else math.copysign(math.inf, latest - median)
    return (latest - median) / spread


def flag(series: pd.Series, threshold: float = THRESHOLD) -> tuple[bool, str]:
    """(anomalous?, reason) for the newest finite value of ``series`` against the values before it."""
    values = series.to_numpy(dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) == 0:
        return False, ""
    last = finite[-1]
    z = robust_z(values[:last], float(values[last]))
    if z is None or abs(z) < threshold:
        return False, ""
    latest, median = float(values[last]), float(np.nanmedian(values[:last]))
    if math.isinf(z):
        return True, f"latest {latest:.4g} departs from a constant {median:.4g}"
    where = "above" if z > 0 else "below"
    return True, f"latest {latest:.4g} is {abs(z):.1f} robust σ {where} its recent median {median:.4g}"
