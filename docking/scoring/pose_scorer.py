"""The learned pose scorer: which of a ligand's docked poses is the right one, as a calibrated P(RMSD < 2 A).

Why: the default finds a near-native pose among its ten far more often than its energy puts one first. The scorer
is trained on decoys of training complexes (docking.scoring.decoys) to order the poses of one complex
(docking.scoring.scorer_training) and reads only distances (docking.scoring.pose_features), so it is invariant to
rotating and moving the complex.

    x      = (features - mean) / std                      standardised on the training poses
    logit  = MLP(x)                                       2 hidden layers, SiLU
    P      = sigmoid(a * logit + b)                       Platt calibration, fitted on validation poses

Stored in a model folder as FILE_NAME: tensors and plain numbers only, loaded with torch.load(weights_only=True),
so a downloaded file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from torch import nn

from data_prep.protein import HeavyAtoms
from disco_core.errors import CheckpointError
from disco_core.io import atomic_open
from docking.scoring.pose_features import NUM_FEATURES, ComplexFeaturizer

FILE_NAME = "pose_scorer.pt"
FORMAT = "disco-pose-scorer/1"


class PoseScorer(nn.Module):
    """MLP on standardised pose features -> logit; `probabilities` adds the calibration."""

    def __init__(self, hidden: tuple[int, ...] = (128, 64), num_features: int = NUM_FEATURES):
        super().__init__()
        self.hidden = tuple(hidden)
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))
        layers, width = [], num_features
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.SiLU()]
            width = size
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))
        self.calibration = (1.0, 0.0)            # (a, b) of sigmoid(a * logit + b)
        self.record: dict = {}                   # how it was trained (kept in the file)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.mean) / self.std).squeeze(-1)

    @torch.no_grad()
    def logits(self, mol: Chem.Mol, poses: torch.Tensor | np.ndarray, protein: HeavyAtoms) -> np.ndarray:
        """(P,) logits of the poses (P, N, 3) of `mol` (heavy atoms, the poses' atom order) in `protein`; higher is
        better."""
        features = ComplexFeaturizer.around(mol, protein, poses)(poses)
        return self(features.to(self.mean.device)).cpu().numpy()

    def calibrated(self, logits: np.ndarray) -> np.ndarray:
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(-(a * np.asarray(logits, dtype=np.float64) + b)))

    def probabilities(self, mol: Chem.Mol, poses: torch.Tensor | np.ndarray, protein: HeavyAtoms) -> np.ndarray:
        """(P,) calibrated P(RMSD < 2 A) of each pose."""
        return self.calibrated(self.logits(mol, poses, protein))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "hidden": list(self.hidden), "num_features": int(self.mean.numel()),
                   "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                   "calibration": [float(v) for v in self.calibration], "record": self.record}
        with atomic_open(path, "wb") as handle:
            torch.save(payload, handle)
        return path

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> "PoseScorer":
        """The scorer stored at `path`; CheckpointError naming the file when it is not one."""
        try:
            payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError) as exc:
            raise CheckpointError(f"{path}: not a pose scorer ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise CheckpointError(f"{path}: not a pose scorer (found {found!r}, expected {FORMAT})")
        if payload["num_features"] != NUM_FEATURES:
            raise CheckpointError(f"{path}: a pose scorer for {payload['num_features']} features; this version "
                                  f"computes {NUM_FEATURES} (retrain it with `disco train pose-scorer`)")
        scorer = cls(tuple(payload["hidden"]), payload["num_features"])
        try:
            scorer.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: pose scorer weights do not fit ({str(exc)[:200]})") from None
        scorer.calibration = tuple(float(v) for v in payload["calibration"])
        scorer.record = dict(payload.get("record", {}))
        return scorer.to(device).eval()

    @classmethod
    def from_folder(cls, folder: str | Path, device: torch.device | str = "cpu") -> "PoseScorer | None":
        """The scorer of a model folder, None when it has none."""
        path = Path(folder) / FILE_NAME
        return cls.load(path, device) if path.is_file() else None

