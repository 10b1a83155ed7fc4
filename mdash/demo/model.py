"""The demo model: a logistic regression trained at start-up on scikit-learn's bundled iris data.

It is saved and loaded through joblib (a pickle) so the demo exercises a real serialization step. Loading a
pickle runs arbitrary code: only ever load files this process wrote (see docs/demo.md).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
CLASSES = ("setosa", "versicolor", "virginica")


def iris() -> tuple[np.ndarray, np.ndarray]:
    """The 150 iris rows and labels that ship inside scikit-learn (no download)."""
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x.astype(np.float64), y.astype(np.int64)


def train_and_save(directory: str | os.PathLike[str] | None = None) -> Path:
    """Train the classifier and dump it with joblib; returns the file path."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    folder = Path(directory or tempfile.mkdtemp(prefix="mdash-model-"))
    path = folder / "iris.joblib"
    joblib.dump(model, path)
    return path


@dataclass
class IrisModel:
    """A loaded classifier; predicts with the estimator's own coefficients so one row costs microseconds."""

    coef: np.ndarray
    intercept: np.ndarray
    std: np.ndarray  # per-feature spread of the training data, the unit of injected input drift

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IrisModel:
        """Unpickle a file written by train_and_save (trusted: this process wrote it)."""
        import joblib

        model = joblib.load(path)
        x, _ = iris()
        return cls(np.asarray(model.coef_), np.asarray(model.intercept_), x.std(axis=0))

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """Class probabilities, identical to LogisticRegression.predict_proba (multinomial softmax)."""
        z = rows @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
