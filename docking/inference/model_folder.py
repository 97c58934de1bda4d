"""A model folder, what `disco dock --model DIR` reads: the networks (docking.model.loading), the confidence
calibration and, when present, the pose confidence of guided poses and the learned pose scorer
(docking.scoring.pose_scorer, FILE pose_scorer.pt). The bundled default ships in
docking/pretrained/default; a training run folder works too (no pose confidence, identity calibration
until `disco train docking-export` fits one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from disco_core.errors import CheckpointError, InputError
from docking.confidence.calibration import Calibration
from docking.confidence.pose_confidence import FILE_NAME as POSE_CONFIDENCE_FILE
from docking.confidence.pose_confidence import PoseConfidence
from docking.model.loading import DockingModels, load_docking_models
from docking.scoring.pose_scorer import FILE_NAME as POSE_SCORER_FILE
from docking.scoring.pose_scorer import PoseScorer

BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "pretrained" / "default"


@dataclass
class ModelFolder:
    models: DockingModels
    calibration: Calibration
    pose_confidence: PoseConfidence | None
    pose_scorer: PoseScorer | None
    path: Path


def model_folder(path: str | Path | None) -> Path:
    """The folder a --model value names (None: the bundled model)."""
    return Path(path) if path is not None else BUNDLED_MODEL


def load_model_folder(path: str | Path | None, device: torch.device) -> ModelFolder:
    """The networks, calibration and pose confidence of a model folder (or a training run folder)."""
    folder = model_folder(path)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: model folder not found"
                              + (" (the bundled model is missing from this installation)" if path is None else ""))
    return ModelFolder(load_docking_models(folder, device), Calibration.load(folder / "calibration.json"),
                       PoseConfidence.load(folder / POSE_CONFIDENCE_FILE), PoseScorer.from_folder(folder, device),
                       folder)


def check_pose_scorer(path: str | Path | None) -> None:
    """A usage error (InputError on --rank-by scorer) when the model folder has no pose scorer: for a ranking the
    user asked for by name, not the default's, which falls back to the energy."""
    folder = model_folder(path)
    if not (folder / POSE_SCORER_FILE).is_file():
        raise InputError("--rank-by scorer", f"{folder} has no pose scorer ({POSE_SCORER_FILE}; "
                                             f"`disco train pose-scorer` makes one)")
