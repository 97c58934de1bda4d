"""Confidence calibration: the confidence model's probability -> a calibrated P(RMSD < 2 A).

A classifier trained on poses of training complexes is over-confident on new ones. Platt scaling fits
P = sigmoid(a * logit(p) + b), a >= 0, on held-out (validation) poses by maximum likelihood; two parameters
cannot overfit a few hundred poses. The expected calibration error (ECE: bin by predicted probability,
average |mean predicted - observed rate| weighted by bin size) reports how well it worked.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import rankdata

from disco_core.errors import CheckpointError
from disco_core.io import atomic_write_text


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


@dataclass
class Calibration:
    a: float = 1.0
    b: float = 0.0
    fitted_on: str = "none (raw confidence-model probabilities)"
    n_poses: int = 0
    ece_before: float | None = None
    ece_after: float | None = None

    def probabilities(self, raw: list[float] | np.ndarray) -> list[float]:
        """Calibrated probabilities; NaN (no confidence model) stays NaN."""
        raw = np.asarray(raw, dtype=np.float64)
        out = expit(self.a * _logit(raw) + self.b)
        return [float(v) if math.isfinite(r) else math.nan for v, r in zip(out, raw)]

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        """The calibration stored next to a model; the identity when there is none."""
        path = Path(path)
        if not path.is_file():
            return cls()
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: not a calibration file ({exc})") from None


def reliability_table(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """Per equal-width probability bin [low, high): how many predictions fell in it, their mean, and the observed
    share of positives (None for an empty bin): the reliability diagram as rows."""
    probabilities, labels = np.asarray(probabilities, float), np.asarray(labels, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        in_bin = which == b
        rows.append({"low": round(float(edges[b]), 3), "high": round(float(edges[b + 1]), 3), "count": int(in_bin.sum()),
                     "mean_predicted": float(probabilities[in_bin].mean()) if in_bin.any() else None,
                     "observed": float(labels[in_bin].mean()) if in_bin.any() else None})
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Sum over the reliability table's bins of (share of predictions in the bin) x |mean predicted - observed|."""
    rows = reliability_table(probabilities, labels, bins)
    total = max(sum(row["count"] for row in rows), 1)
    return float(sum(row["count"] / total * abs(row["mean_predicted"] - row["observed"]) for row in rows if row["count"]))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic): the chance that a random success scores above a
    random failure. NaN when one class is missing."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def fit_platt(raw: np.ndarray, labels: np.ndarray, fitted_on: str = "") -> Calibration:
    """Maximum-likelihood Platt scaling of raw probabilities against 0/1 labels, with Platt's smoothed
    targets ((n+ + 1)/(n+ + 2) and 1/(n- + 2)) so that a set with no (or only) successes still gives
    finite parameters and a probability that is not exactly 0 or 1."""
    raw, labels = np.asarray(raw, float), np.asarray(labels, float)
    x = _logit(raw)
    n_pos, n_neg = labels.sum(), len(labels) - labels.sum()
    targets = np.where(labels > 0.5, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def negative_log_likelihood(params: np.ndarray) -> float:
        z = params[0] * x + params[1]
        return float(np.sum(np.logaddexp(0.0, z) - targets * z))

    # a >= 0: calibration may flatten the confidence model's ranking but never reverse it
    result = minimize(negative_log_likelihood, np.array([1.0, 0.0]), method="L-BFGS-B",
                      bounds=[(0.0, None), (None, None)])
    calibration = Calibration(a=float(result.x[0]), b=float(result.x[1]), fitted_on=fitted_on, n_poses=len(raw))
    calibration.ece_before = expected_calibration_error(raw, labels)
    calibration.ece_after = expected_calibration_error(np.array(calibration.probabilities(raw)), labels)
    return calibration
