"""The trained docking networks of a run or model folder: rebuilt from checkpoints, EMA weights, loaded with
weights_only=True. A training run folder holds one checkpoint per stage: RUN/score/checkpoint.pt ("score.*"
and, for K > 0, "encoder.*" weights), RUN/prior/checkpoint.pt ("prior.*"), RUN/confidence/checkpoint.pt
("confidence.*"); each stores its network config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch_geometric.data import Batch

from disco_core.checkpoint import load_checkpoint
from disco_core.config import config_from_dict
from disco_core.device import resolve_device
from disco_core.errors import CheckpointError
from docking.model import torus
from docking.model.confidence_model import ConfidenceModel
from docking.model.graph_network import ScoreModelConfig
from docking.model.noise_schedule import PoseNoiseSchedule, ScheduleOptions
from docking.model.pointer_latents import PointerEncoder, PointerPrior
from docking.model.score_model import ScoreModel
from docking.model.so3 import igso3_table

STAGES = ("score", "prior", "confidence")



def build_score_model(config: ScoreModelConfig) -> ScoreModel:
    """A score model whose rotation / torsion outputs are scaled by the exact expected score norms."""
    return ScoreModel(config, rot_norm_sq=igso3_table().expected_score_norm_sq,
                      tor_norm_sq=torus.expected_score_norm_sq)


class ScoreStage(nn.Module):
    """What the score stage trains end to end: the score model and, when K > 0, the pointer encoder
    that reads the clean pose. One forward, so DistributedDataParallel sees a single call per step."""

    def __init__(self, config: ScoreModelConfig):
        super().__init__()
        self.score = build_score_model(config)
        self.encoder = PointerEncoder(config) if config.num_latents > 0 else None

    def forward(self, clean: Batch, noised: Batch, sigmas: dict[str, torch.Tensor],
                tau: float = 1.0) -> dict[str, torch.Tensor]:
        picks = self.encoder.encode(clean, tau=tau)[0] if self.encoder is not None else None
        return self.score(noised, sigmas, picks)


@dataclass
class DockingModels:
    """Everything `dock_complex` needs (prior and confidence may be missing: no picks / no ranking)."""

    score: ScoreModel
    encoder: PointerEncoder | None = None
    prior: PointerPrior | None = None
    confidence: ConfidenceModel | None = None
    schedule: PoseNoiseSchedule = dataclasses.field(default_factory=PoseNoiseSchedule)
    pocket_radius: float | None = None     # the receptor crop radius used in pocket-conditioned training
    max_residues: int | None = None        # ... and the cap on the residues of a crop

    @property
    def num_latents(self) -> int:
        return self.score.config.num_latents

    @property
    def device(self) -> torch.device:
        return next(self.score.parameters()).device


def _prefixed(state: dict, prefix: str) -> dict:
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def _load_stage(path: Path, device: torch.device) -> tuple[ScoreModelConfig, dict, dict]:
    """(network config, EMA weights, the stage's model_config dict) of one stage checkpoint."""
    config, state = load_checkpoint(path, map_location=device)
    try:
        stage_config = config["model"]
        network = config_from_dict(ScoreModelConfig, dict(stage_config["network"]), str(path))
        return network, state["ema"], stage_config
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a docking stage checkpoint (missing {exc})") from None


def _restore(module: nn.Module, weights: dict, path: Path) -> nn.Module:
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({str(exc).splitlines()[0][:160]})") \
            from None
    return module.eval()


def load_docking_models(run_dir: str | Path, device: str | torch.device = "cpu") -> DockingModels:
    """Rebuild the EMA networks of a training run (configs from the checkpoints, weights_only loading).
    The score stage is required; prior and confidence are loaded when their checkpoints exist."""
    run_dir, device = Path(run_dir), resolve_device(str(device)) if isinstance(device, str) else device
    path = run_dir / "score" / "checkpoint.pt"
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: no score-stage checkpoint (expected {path})")
    network, weights, stage_config = _load_stage(path, device)
    stage = _restore(ScoreStage(network).to(device), weights, path)
    schedule = config_from_dict(ScheduleOptions, dict(stage_config.get("schedule") or {}), str(path)).build()
    models = DockingModels(score=stage.score, encoder=stage.encoder, schedule=schedule,
                           pocket_radius=stage_config.get("pocket_radius"), max_residues=stage_config.get("max_residues"))
    for name, cls in (("prior", PointerPrior), ("confidence", ConfidenceModel)):
        path = run_dir / name / "checkpoint.pt"
        if path.is_file():
            network, weights, _ = _load_stage(path, device)
            setattr(models, name, _restore(cls(network).to(device), _prefixed(weights, f"{name}."), path))
    return models
