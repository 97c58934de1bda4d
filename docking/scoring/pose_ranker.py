"""A linear conditional-logit ranker of one complex's poses: few inputs, so that a few hundred training complexes
are enough (the 817-input scorers of benchmarks/results/pose_scorer_val overfit them).

    x_i        = (features_i - mean) / std                 standardised on the training poses
    s_i        = w . x_i                                   the pose's score; higher is better
    P(i first) = softmax_i(s)                              over the poses of one complex
    loss       = - sum_complexes log sum_{i: rmsd_i < 2 A} P(i first) + l2 / 2 * |w|^2

Only differences between poses of one complex enter the softmax, so the ranker needs no intercept and cannot
learn which complexes are easy. Complexes without a pose within 2 A carry no information about the order and are
left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

NEAR_NATIVE_A = 2.0


@dataclass
class PoseGroup:
    """The poses of one complex: features (P, F), RMSD to the crystal (P,), and the default's order (P,) (rank 0
    first), which breaks ties."""
    name: str
    features: np.ndarray
    rmsd: np.ndarray
    default_rank: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.default_rank is None:
            self.default_rank = np.arange(len(self.rmsd))


@dataclass
class LinearRanker:
    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    feature_names: tuple[str, ...]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(P,) scores, higher is better."""
        return ((np.asarray(features, dtype=float) - self.mean) / self.std) @ self.weights

    def order(self, features: np.ndarray, default_rank: np.ndarray | None = None) -> np.ndarray:
        """Pose indices best first; equal scores keep the default's order."""
        scores = self.scores(features)
        tie = np.arange(len(scores)) if default_rank is None else np.asarray(default_rank)
        return np.lexsort((tie, -np.round(scores, 9)))


def _objective(weights: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], l2: float
               ) -> tuple[float, np.ndarray]:
    loss, grad = 0.5 * l2 * weights @ weights, l2 * weights
    for x, near in groups:
        s = x @ weights
        p_all = np.exp(s - logsumexp(s))
        p_near = np.exp(s[near] - logsumexp(s[near]))
        loss -= logsumexp(s[near]) - logsumexp(s)
        grad -= p_near @ x[near] - p_all @ x
    return loss / max(1, len(groups)), grad / max(1, len(groups))


def fit_ranker(groups: list[PoseGroup], feature_names: tuple[str, ...], l2: float = 1e-2) -> LinearRanker:
    """The weights minimising the listwise loss above (L-BFGS, exact gradient) over the groups with at least one
    near-native and one other pose."""
    stacked = np.concatenate([g.features for g in groups]).astype(float)
    mean, std = stacked.mean(0), stacked.std(0)
    std = np.where(std > 0, std, 1.0)
    usable = []
    for g in groups:
        near = np.asarray(g.rmsd) < NEAR_NATIVE_A
        if near.any() and not near.all():
            usable.append(((np.asarray(g.features, dtype=float) - mean) / std, near))
    result = minimize(_objective, np.zeros(len(feature_names)), args=(usable, l2), jac=True, method="L-BFGS-B")
    return LinearRanker(result.x, mean, std, tuple(feature_names))


def top1_near_native(ranker: LinearRanker, group: PoseGroup, columns: list[int] | None = None) -> bool:
    """Whether the ranker puts a pose within 2 A first in `group` (features restricted to `columns`)."""
    features = group.features if columns is None else group.features[:, columns]
    return bool(group.rmsd[ranker.order(features, group.default_rank)[0]] < NEAR_NATIVE_A)
