"""A calibrated P(RMSD < 2 A) for physics-guided poses, from what the docking run already knows about each.

Why: the bundled confidence network was trained on unguided poses of which almost none were within 2 A,
so its calibration is a constant. A guided pose comes with more evidence: its interaction energy (and how
far it sits above the ligand's best), how many of the other samples agree with it, and the score model's
own opinion of it, the displacement it would still apply at a small diffusion time (a pose the model
believes in needs little). A logistic regression on these few features is fitted on the train split's
guided poses (`disco train pose-confidence`) and Platt-calibrated on validation poses, because the score
model has seen the train complexes' crystal poses and is more sure of them than of new ones.

The fitted model is a small JSON file in the model folder (DIR/pose_confidence.json): numbers only,
nothing executable, so a downloaded model folder cannot run code through it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.special import expit

from disco_core.errors import CheckpointError
from disco_core.io import atomic_write_text
from torch_geometric.data import Batch

from docking.model.graph_network import num_graphs_of
from docking.model.loading import DockingModels

FEATURES = ("energy_per_atom", "energy_gap", "consensus", "shift_tr", "shift_rot", "confidence_logit",
            "log_heavy_atoms", "rotatable_bonds")
SHIFT_TIME = 0.3            # diffusion time of the score model's opinion (sigma_tr there is about 1 A)
CONSENSUS_RADIUS_A = 2.0    # two poses "agree" within this RMSD (same atom order)
FILE_NAME = "pose_confidence.json"


@torch.no_grad()
def score_shifts(score_model, schedule, batch, t: float = SHIFT_TIME) -> tuple[torch.Tensor, torch.Tensor]:
    """Per graph of `batch` (ligand at its pose): the translation (A) and rotation (rad) the score model
    would move it by in expectation at time t, sigma(t)^2 |score|, with the null latent (no picks needed)."""
    num_graphs = num_graphs_of(batch)
    device = batch["ligand"].pos.device
    sigma = {name: float(component.sigma(t)) for name, component in
             (("tr", schedule.translation), ("rot", schedule.rotation), ("tor", schedule.torsion))}
    out = score_model(batch, {name: torch.full((num_graphs,), value, device=device) for name, value in sigma.items()})
    return (out["tr_score"].norm(dim=-1) * sigma["tr"] ** 2, out["rot_score"].norm(dim=-1) * sigma["rot"] ** 2)


def consensus(poses: torch.Tensor, radius: float = CONSENSUS_RADIUS_A) -> torch.Tensor:
    """(S,) share of a ligand's other poses within `radius` RMSD of each pose (0 when S = 1)."""
    num = poses.shape[0]
    if num < 2:
        return torch.zeros(num, dtype=poses.dtype, device=poses.device)
    rmsd = ((poses[:, None] - poses[None]) ** 2).sum(-1).mean(-1).sqrt()
    return ((rmsd < radius).sum(1) - 1).to(poses.dtype) / (num - 1)


def pose_features(energies: torch.Tensor, poses: torch.Tensor, shift_tr: torch.Tensor, shift_rot: torch.Tensor,
                  confidence_logits: torch.Tensor, num_rotatable: int) -> torch.Tensor:
    """(S, len(FEATURES)) for the S poses of one ligand at one site, columns in FEATURES order."""
    num_atoms = poses.shape[1]
    energies = energies.float()
    columns = [energies / num_atoms, energies - energies.min(), consensus(poses.float()), shift_tr.float(),
               shift_rot.float(), confidence_logits.float(),
               torch.full_like(energies, math.log(num_atoms)), torch.full_like(energies, float(num_rotatable))]
    return torch.stack([c.to(energies.device) for c in columns], -1)


@dataclass
class PoseConfidence:
    """Standardised features -> logistic regression -> Platt scaling -> P(RMSD < 2 A)."""
    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    report: dict = field(default_factory=dict)   # how it was fitted and what it scored (written by the fit)

    def logits(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        x = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"expected (n, {len(self.features)}) features, got {x.shape}")
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def probabilities(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        return expit(self.platt_a * self.logits(features) + self.platt_b)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "PoseConfidence | None":
        """The pose confidence stored in a model folder, None when the folder has none."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            model = cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: not a pose-confidence file ({exc})") from None
        if tuple(model.features) != FEATURES or not (len(model.mean) == len(model.scale) == len(model.weights)
                                                      == len(FEATURES)):
            raise CheckpointError(f"{path}: features {model.features} do not match this version's {list(FEATURES)}")
        return model


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> PoseConfidence:
    """Maximum a posteriori logistic regression on standardised features (Gaussian prior of precision l2
    on the weights, none on the bias), by L-BFGS."""
    x, y = np.asarray(features, np.float64), np.asarray(labels, np.float64)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        logit = z @ w + b
        loss = np.sum(np.logaddexp(0.0, logit) - y * logit) + 0.5 * l2 * w @ w
        residual = expit(logit) - y
        return float(loss), np.concatenate([z.T @ residual + l2 * w, [residual.sum()]])

    result = minimize(objective, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
    return PoseConfidence(list(FEATURES), mean.tolist(), scale.tolist(), result.x[:-1].tolist(), float(result.x[-1]))


def guided_pose_features(models: DockingModels, batch: Batch, poses: list[torch.Tensor],
                         energies: list[torch.Tensor | None], confidence_logits: torch.Tensor,
                         num_rotatable: list[int]) -> list[torch.Tensor | None]:
    """docking.confidence.pose_confidence features of every complex that has energies (`batch` holds the final
    poses); one score-model call for the whole batch. A model without a confidence network gives 0 logits."""
    shift_tr, shift_rot = score_shifts(models.score, models.schedule, batch)
    copies = [pos.shape[0] for pos in poses]
    logits = torch.nan_to_num(confidence_logits, nan=0.0)
    features = []
    for i, (pos, energy, tr, rot, bonds) in enumerate(zip(poses, energies, shift_tr.split(copies),
                                                          shift_rot.split(copies), num_rotatable)):
        features.append(None if energy is None else pose_features(energy, pos, tr, rot, logits[i], bonds))
    return features
