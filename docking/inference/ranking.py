"""How a ligand's poses are ordered, in one place: the pipeline orders the poses of every site with
`pose_order` (and keeps the best `samples`), post-processing orders them again with it once Vina scores or
PoseBusters verdicts exist. `sampling_rank` says which ranking the pipeline applies for a requested one.

    energy / intermolecular / vina   ascending per-pose value (kcal/mol); a pose without one (NaN) last
    confidence                       descending calibrated P(RMSD < 2 A); NaN counts as 0 (no confidence
                                     model: the sampling order is kept)
    scorer                           the order the pipeline gave (docking.scoring.pose_scorer's calibrated
                                     P(RMSD < 2 A), or the energy when the model folder has no scorer): the
                                     scorer needs the receptor, which post-processing does not hold
    valid first                      with PoseBusters verdicts, the poses that pass every check ahead of those
                                     that fail, the order above kept within each group

Ties keep the poses' current order, so ranking an already ranked list changes nothing.
"""

from __future__ import annotations

import math
from typing import Sequence

from disco_core.errors import InputError
from docking.request.presets import SEARCH_RANKINGS

# the per-pose value each ranking sorts by (names of DockResult.extras, SD properties of the written poses)
RANKING_KEYS = {"vina": "vina_score_kcal_mol", "energy": "interaction_energy",
                "intermolecular": "intermolecular_energy"}


def sampling_rank(rank_by: str, guided: bool) -> str:
    """How the pipeline orders (and, blind, picks among the sites') poses for a requested final ranking:
    by interaction energy (or its intermolecular part) or the pose scorer when guided and ranking by it, by the
    interaction energy when ranking by Vina (whose rescoring then sees the lowest-energy poses), else by
    confidence."""
    if not guided:
        return "confidence"
    return rank_by if rank_by in SEARCH_RANKINGS else "energy" if rank_by == "vina" else "confidence"


def pose_order(rank_by: str, values: dict[str, Sequence], confidences: Sequence[float],
               valid: Sequence[bool] | None = None, name: str = "ligand") -> list[int]:
    """Indices of the poses, best first, for `rank_by` ("confidence" or a key of RANKING_KEYS). `values` holds
    the per-pose values by name (DockResult.extras); `valid` the PoseBusters verdicts, when they go first. A
    ranking whose value the poses lack is an InputError naming the ligand."""
    if rank_by in RANKING_KEYS:
        key = RANKING_KEYS[rank_by]
        if key not in values:
            raise InputError(name, f"--rank-by {rank_by}: the poses carry no {key} "
                                   f"(needs --rescore vina / --physics-guidance)")
        scores = [float(v) if float(v) == float(v) else math.inf for v in values[key]]
    elif rank_by == "scorer":
        scores = [0.0] * len(confidences)          # all tie: the pipeline's order is kept
    else:
        scores = [-float(p) if p == p else 0.0 for p in confidences]
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    if valid is not None:
        order = sorted(order, key=lambda i: 0 if valid[i] else 1)       # stable: the order above holds in each group
    return order
