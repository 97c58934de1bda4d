"""Conformer matching: turn an RDKit conformer's torsions so that it fits the crystal pose.

Bond lengths, angles and rings stay those of the conformer, so the matched pose lies on the same
manifold that torsional diffusion moves on; it is the training target. The fit is block coordinate
descent on the summed squared deviation, which never increases:

1. Kabsch: align the crystal pose onto the current conformer (optimal rigid fit).
2. For each rotatable bond in turn, the best angle for its moving atoms has a closed form. With the
   bond axis k through atom v, each moving atom's offset x - v splits into a part along k and a part
   b perpendicular to it; turning by t gives v + (x.k)k + cos(t) b + sin(t) (k x b). Against targets
   y, the squared error is minimised by t = atan2(sum (k x b).(y - v), sum b.(y - v)) (both sums run
   over perpendicular parts; the parallel parts do not depend on t).

Sweeps repeat until the RMSD stops improving; a few restarts from random torsions guard against
local minima. Coordinate descent zig-zags near a minimum, so the best candidate is polished by a
Gauss-Newton least-squares fit over all torsions at once (Kabsch inside the residual). Then the
conformer is rigidly aligned onto the crystal pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .torsions import rotate_about_bond


def kabsch(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R and translation t minimising |mobile @ R.T + t - target| (no reflection)."""
    mu_m, mu_t = mobile.mean(0), target.mean(0)
    h = (mobile - mu_m).T @ (target - mu_t)
    u, _, vt = np.linalg.svd(h)
    sign = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    correction = np.diag([1.0, 1.0, sign])
    rotation = vt.T @ correction @ u.T
    return rotation, mu_t - mu_m @ rotation.T


def align(mobile: np.ndarray, target: np.ndarray) -> np.ndarray:
    rotation, translation = kabsch(mobile, target)
    return mobile @ rotation.T + translation


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


def aligned_rmsd(mobile: np.ndarray, target: np.ndarray) -> float:
    return rmsd(align(mobile, target), target)


def _best_angle(pos: np.ndarray, target: np.ndarray, u: int, v: int, mask: np.ndarray) -> float:
    axis = pos[v] - pos[u]
    axis = axis / np.linalg.norm(axis)
    offsets = pos[mask] - pos[v]
    perpendicular = offsets - np.outer(offsets @ axis, axis)
    goal = target[mask] - pos[v]
    goal = goal - np.outer(goal @ axis, axis)
    cos_term = float((perpendicular * goal).sum())
    sin_term = float((np.cross(axis, perpendicular) * goal).sum())
    return float(np.arctan2(sin_term, cos_term))


def _descend(pos: np.ndarray, crystal: np.ndarray, bonds: np.ndarray, masks: np.ndarray,
             max_sweeps: int, tol: float) -> tuple[np.ndarray, float]:
    best = aligned_rmsd(pos, crystal)
    for _ in range(max_sweeps):
        target = align(crystal, pos)  # crystal in the conformer's frame
        for (u, v), mask in zip(bonds, masks):
            angle = _best_angle(pos, target, int(u), int(v), mask)
            pos = rotate_about_bond(pos, int(u), int(v), mask, angle)
        current = aligned_rmsd(pos, crystal)
        if best - current < tol:
            best = min(best, current)
            break
        best = current
    return pos, best


def _polish(pos: np.ndarray, crystal: np.ndarray, bonds: np.ndarray, masks: np.ndarray,
            current: float, max_evaluations: int = 10, max_torsions: int = 30) -> tuple[np.ndarray, float]:
    """Joint least-squares refinement of all torsion changes; kept only when it lowers the RMSD.

    Each Gauss-Newton step costs one residual per torsion (finite differences), so the step count is
    capped and very flexible ligands (peptides) keep the coordinate-descent result."""
    if len(bonds) > max_torsions:
        return pos, current
    from scipy.optimize import least_squares

    from .torsions import apply_torsion_changes

    def residual(changes: np.ndarray) -> np.ndarray:
        moved = apply_torsion_changes(pos, bonds, masks, changes)
        return (align(moved, crystal) - crystal).ravel()

    try:
        fit = least_squares(residual, np.zeros(len(bonds)), method="trf", max_nfev=max_evaluations,
                            xtol=1e-10, ftol=1e-10)
    except (ValueError, np.linalg.LinAlgError):
        return pos, current
    polished = apply_torsion_changes(pos, bonds, masks, fit.x)
    value = aligned_rmsd(polished, crystal)
    return (polished, value) if value < current else (pos, current)


@dataclass
class MatchResult:
    matched_pos: np.ndarray      # (N, 3) conformer with matched torsions, aligned onto the crystal pose
    matched_rmsd: float
    unmatched_rmsd: float        # the conformer as generated, rigidly aligned


def match_conformer(conformer: np.ndarray, crystal: np.ndarray, bonds: np.ndarray, masks: np.ndarray,
                    restarts: int = 6, max_sweeps: int = 30, tol: float = 1e-4, seed: int = 0) -> MatchResult:
    """Fit the conformer's torsions to `crystal` (same atom order), then align it onto `crystal`."""
    conformer = np.asarray(conformer, dtype=np.float64)
    crystal = np.asarray(crystal, dtype=np.float64)
    unmatched = aligned_rmsd(conformer, crystal)
    if len(bonds) == 0:
        return MatchResult(align(conformer, crystal).astype(np.float32), unmatched, unmatched)
    rng = np.random.default_rng(seed)
    best_pos, best_rmsd = _descend(conformer, crystal, bonds, masks, max_sweeps, tol)
    for _ in range(restarts):
        start = conformer
        for (u, v), mask in zip(bonds, masks):
            start = rotate_about_bond(start, int(u), int(v), mask, float(rng.uniform(-np.pi, np.pi)))
        pos, value = _descend(start, crystal, bonds, masks, max_sweeps, tol)
        if value < best_rmsd:
            best_pos, best_rmsd = pos, value
    best_pos, best_rmsd = _polish(best_pos, crystal, bonds, masks, best_rmsd)
    if best_rmsd > unmatched:  # cannot happen (descent is monotone from the conformer), kept as a guard
        best_pos, best_rmsd = conformer, unmatched
    return MatchResult(align(best_pos, crystal).astype(np.float32), best_rmsd, unmatched)
