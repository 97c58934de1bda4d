"""The docking training stages: what each trains, its loss, its validation, its Trainer, and
`train_docking` running them in order. Each stage is one run of the shared Trainer (disco_core.trainer);
the data and batches they read come from docking.training.data.

    score       ScoreModel + PointerEncoder end to end. Per complex: t ~ U(0, 1), noise the matched pose
                (docking.model.pose_noise.noise_pose); the encoder reads the clean pose and picks K nodes
                (straight-through Gumbel-softmax, tau 1); the score model reads the noised pose and the
                picks (latent dropout inside it); loss = denoising score matching. K = 0: no encoder.
    prior       PointerPrior by cross-entropy against the frozen encoder's pick distribution
                softmax(logits) per graph, seeing the ligand unposed (its RDKit conformer at a random
                orientation at the pocket / receptor centre, as at docking time).
    confidence  Sample poses of training complexes with the trained score model (+ prior), label
                RMSD < 2 A against the crystal pose, train the ConfidenceModel with binary cross-entropy.

Validation docks a few held-out complexes every `validation.every` steps and logs success rates and the
median RMSD (symmetry-corrected, data_prep.pose_rmsd) to RUN/<stage>/metrics.csv.
"""

from __future__ import annotations

import dataclasses
import io
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Batch

from data_prep.pose_rmsd import symmetry_rmsd
from disco_core.errors import CheckpointError, DiscoError, InputError
from disco_core.graph_ops import segment_softmax
from disco_core.io import atomic_write_bytes
from disco_core.trainer import Trainer, TrainerConfig, distributed_context
from docking.model.confidence_model import ConfidenceModel
from docking.model.pointer_latents import PointerEncoder, PointerPrior, pointer_prior_loss
from docking.model.graph_network import ScoreModelConfig, complex_node_graph_index
from docking.model.noise_schedule import ScheduleOptions
from docking.model.pose_noise import NoisedPose, score_matching_loss
from docking.model.loading import STAGES, DockingModels, ScoreStage, load_docking_models
from docking.model.complex_sampling import dock_complex, picks_as_node_indices
from docking.training.data import (DataOptions, ScoreBatch, PriorBatch, complex_generator, confidence_batch_maker,
                                   load_split_items, pocket_trainable, prior_batch_maker, score_batch_maker,
                                   training_complex)

# ----------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class ValidationOptions:
    every: int = 1000                     # steps between validations (0: never)
    complexes: int = 8                    # first N complexes of the validation split
    samples: int = 10                     # poses per complex
    sampling_steps: int = 20
    pocket: bool = True                   # dock into the crystal pocket (else blind)


@dataclass
class PriorStageOptions:
    max_steps: int = 2000
    lr: float = 1e-3


@dataclass
class ConfidenceStageOptions:
    max_steps: int = 2000
    lr: float = 1e-3
    complexes: int = 0                    # training complexes to sample poses for (0: all)
    samples_per_complex: int = 4
    sampling_steps: int = 10
    rmsd_threshold: float = 2.0


@dataclass
class DockingTrainConfig:
    model: ScoreModelConfig = field(default_factory=ScoreModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    data: DataOptions = field(default_factory=DataOptions)
    schedule: ScheduleOptions = field(default_factory=ScheduleOptions)
    validation: ValidationOptions = field(default_factory=ValidationOptions)
    prior: PriorStageOptions = field(default_factory=PriorStageOptions)
    confidence: ConfidenceStageOptions = field(default_factory=ConfidenceStageOptions)
    init_from: str = ""   # a model folder or run to fine-tune: each stage starts from its DIR/<stage>/checkpoint.pt


# ----------------------------------------------------------------------------------------------------
# Losses


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def score_stage_loss(model: nn.Module, batch: ScoreBatch, step: int) -> tuple[torch.Tensor, dict]:
    """Denoising score matching, each component normalised by its expected score norm; per complex,
    then averaged (torsions over the complexes that have rotatable bonds)."""
    device = _model_device(model)
    clean, noised = batch.clean.to(device), batch.noised.to(device)
    targets = [NoisedPose(**{k: v.to(device) for k, v in vars(t).items()}) for t in batch.targets]
    sigmas = {name: torch.stack([getattr(t, f"sigma_{name}") for t in targets]).float()
              for name in ("tr", "rot", "tor")}
    out = model(clean, noised, sigmas)
    sums = {"tr": [], "rot": [], "tor": []}
    bond_start = 0
    for g, target in enumerate(targets):
        num_bonds = target.tor_score.shape[-1]
        tor = out["tor_score"][bond_start:bond_start + num_bonds]
        bond_start += num_bonds
        for name, value in score_matching_loss(out["tr_score"][g], out["rot_score"][g], tor, target).items():
            sums[name].append(value)
    losses = {name: torch.stack(values).mean() for name, values in sums.items() if values}
    total = sum(losses.values())
    return total, {f"loss_{name}": value.item() for name, value in losses.items()}


class PriorStage(nn.Module):
    """What the prior stage trains: the pointer prior, with its loss as the one forward."""

    def __init__(self, config: ScoreModelConfig):
        super().__init__()
        self.prior = PointerPrior(config)
        # The prior never drops its conditioning picks, so the latent embedding's null vectors take no part
        # in its loss; frozen, DistributedDataParallel does not wait for gradients they never get.
        embedding = self.prior.backbone.latent_embedding
        embedding.null_node.requires_grad_(False)
        embedding.null_edge.requires_grad_(False)

    def forward(self, unposed: Batch, target_probs: torch.Tensor) -> torch.Tensor:
        return pointer_prior_loss(self.prior, unposed, target_probs)


def encoder_pick_distribution(encoder: PointerEncoder, batch: Batch) -> torch.Tensor:
    """q(z_k = node | complex) = softmax over each graph's nodes of the encoder's logits: (N, K)."""
    logits = encoder(batch)
    index = complex_node_graph_index(batch)
    return torch.stack([segment_softmax(logits[:, k], index, batch.num_graphs) for k in range(logits.shape[1])], 1)


def prior_stage_loss(encoder: PointerEncoder) -> Callable:
    def loss_fn(model: nn.Module, batch: PriorBatch, step: int) -> tuple[torch.Tensor, dict]:
        device = _model_device(model)
        clean, unposed = batch.clean.to(device), batch.unposed.to(device)
        with torch.no_grad():
            target = encoder_pick_distribution(encoder.to(device), clean)
        entropy = -(target * target.clamp_min(1e-12).log()).sum() / (clean.num_graphs * target.shape[1])
        return model(unposed, target), {"encoder_entropy": entropy.item()}

    return loss_fn


def confidence_stage_loss(model: nn.Module, batch: tuple[Batch, torch.Tensor], step: int) -> tuple[torch.Tensor, dict]:
    device = _model_device(model)
    graphs, labels = batch[0].to(device), batch[1].to(device)
    logits = model(graphs)
    accuracy = ((logits > 0).float() == labels).float().mean()
    return F.binary_cross_entropy_with_logits(logits, labels), {"accuracy": accuracy.item()}


# ----------------------------------------------------------------------------------------------------
# Validation


@torch.no_grad()
def evaluate_docking(models: DockingModels, items: list[dict], options: DataOptions, samples: int, steps: int,
                     pocket: bool = True, encoder_picks: bool = False, seed: int = 0) -> dict[str, float]:
    """Dock each complex `samples` times and compare with its crystal pose (symmetry-corrected RMSD):
    success = share of all poses under 2 A, top1 = the best-ranked pose (by confidence, else the first
    sample), best = the best of the samples. `encoder_picks` takes the latents from the encoder reading
    the true pose (the score stage's check, an upper bound) instead of the prior."""
    rmsds, top1, best, seconds = [], [], [], 0.0
    for i, item in enumerate(items):
        generator = torch.Generator().manual_seed(seed * 7919 + i)
        example = training_complex(item, dataclasses.replace(options, pocket_center_jitter=0.0),
                                   torch.Generator().manual_seed(seed), pocket=pocket)
        picks = None
        if encoder_picks and models.encoder is not None:
            copies = Batch.from_data_list([example.graph] * samples).to(models.device)
            picks = picks_as_node_indices(models.encoder.encode(copies, generator=generator)[0], copies)
        start = time.perf_counter()
        docked = dock_complex(models, example.graph, samples, steps, generator=generator,
                              pocket_center=example.center if pocket else None, picks=picks)
        seconds += time.perf_counter() - start
        pose_rmsd = symmetry_rmsd(item["ligand_molblock"], docked.poses, item["lig_pos_crystal"]).tolist()
        rmsds += pose_rmsd
        top1.append(pose_rmsd[0] < 2.0)
        best.append(min(pose_rmsd) < 2.0)
    return {"val_success": sum(r < 2.0 for r in rmsds) / len(rmsds), "val_top1_success": sum(top1) / len(top1),
            "val_best_success": sum(best) / len(best), "val_median_rmsd": statistics.median(rmsds),
            "val_seconds_per_pose": seconds / len(rmsds)}


def validation_hook(items: list[dict], config: DockingTrainConfig,
                    models_from_ema: Callable[[nn.Module], DockingModels], encoder_picks: bool, max_steps: int,
                    rank: int = 0) -> Callable[[int, nn.Module], dict] | None:
    """The Trainer's on_log: validate every `validation.every` steps and at the end; between
    validations repeat the last figures (with the step they are from) so metrics.csv keeps its columns."""
    options = config.validation
    if not items or options.every <= 0 or options.complexes <= 0:
        return None
    items = items[:options.complexes]
    last: dict[str, float] = {}

    def on_log(step: int, ema_model: nn.Module) -> dict:
        nonlocal last
        if not last or step % options.every == 0 or step == max_steps:
            if rank == 0:
                was_training = ema_model.training
                metrics = evaluate_docking(models_from_ema(ema_model.eval()), items, config.data, options.samples,
                                           options.sampling_steps, options.pocket, encoder_picks, config.trainer.seed)
                ema_model.train(was_training)
            else:
                metrics = dict.fromkeys(["val_success", "val_top1_success", "val_best_success", "val_median_rmsd",
                                         "val_seconds_per_pose"], math.nan)
            last = {"val_step": step, **metrics}
        return last

    return on_log


# ----------------------------------------------------------------------------------------------------
# Stages


def _stage_model_config(config: DockingTrainConfig, stage: str) -> dict:
    pocket_radius = config.data.pocket_radius if config.data.pocket_probability > 0 else None
    return {"stage": stage, "network": dataclasses.asdict(config.model), "pocket_radius": pocket_radius,
            "max_residues": config.data.max_residues, "schedule": dataclasses.asdict(config.schedule)}


def _trainer_config(config: DockingTrainConfig, stage: str, max_steps: int | None = None,
                    lr: float | None = None) -> TrainerConfig:
    changes = {"max_steps": max_steps, "lr": lr}
    if config.init_from:
        start = Path(config.init_from) / stage / "checkpoint.pt"
        if start.is_file():
            changes["init_from"] = str(start)
        elif stage == "score":
            raise CheckpointError(f"{config.init_from}: no score/checkpoint.pt to fine-tune from")
    return dataclasses.replace(config.trainer, **{k: v for k, v in changes.items() if v is not None})


def score_trainer(config: DockingTrainConfig, train_items: list[dict], val_items: list[dict],
                  run_dir: str | Path) -> Trainer:
    """Stage 1 -> RUN/score/: the score model and (K > 0) the pointer encoder, end to end."""
    rank, world_size = distributed_context()
    schedule = config.schedule.build()
    trainer_config = _trainer_config(config, "score")
    hook = validation_hook(val_items, config,
                           lambda ema: DockingModels(score=ema.score, encoder=ema.encoder, schedule=schedule),
                           encoder_picks=True, max_steps=trainer_config.max_steps, rank=rank)
    torch.manual_seed(trainer_config.seed)   # reproducible initial weights
    trainer = Trainer(ScoreStage(config.model), score_stage_loss,
                      score_batch_maker(train_items, config.data, schedule, trainer_config.seed, rank, world_size),
                      trainer_config, Path(run_dir) / "score", model_config=_stage_model_config(config, "score"),
                      on_log=hook, run_config=config)
    return trainer


def prior_trainer(config: DockingTrainConfig, train_items: list[dict], val_items: list[dict],
                  run_dir: str | Path) -> Trainer | None:
    """Stage 2 -> RUN/prior/: the pointer prior against the frozen encoder (None when K = 0)."""
    if config.model.num_latents == 0:
        return None
    rank, world_size = distributed_context()
    trainer_config = _trainer_config(config, "prior", config.prior.max_steps, config.prior.lr)
    frozen = dataclasses.replace(load_docking_models(run_dir, trainer_config.device), prior=None, confidence=None)
    encoder = frozen.encoder.requires_grad_(False)
    hook = validation_hook(val_items, config, lambda ema: dataclasses.replace(frozen, prior=ema.prior),
                           encoder_picks=False, max_steps=trainer_config.max_steps, rank=rank)
    torch.manual_seed(trainer_config.seed)   # reproducible initial weights
    trainer = Trainer(PriorStage(config.model), prior_stage_loss(encoder),
                      prior_batch_maker(train_items, config.data, trainer_config.seed + 1, rank, world_size),
                      trainer_config, Path(run_dir) / "prior", model_config=_stage_model_config(config, "prior"),
                      on_log=hook, run_config=config)
    return trainer


class ConfidenceStage(nn.Module):
    """What the confidence stage trains and saves ("confidence.*" weights)."""

    def __init__(self, config: ScoreModelConfig):
        super().__init__()
        self.confidence = ConfidenceModel(config)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.confidence(batch)


def sample_confidence_poses(models: DockingModels, items: list[dict], config: DockingTrainConfig,
                            path: Path) -> dict[str, torch.Tensor]:
    """Poses of training complexes sampled with the trained models, and their (symmetry-corrected) RMSD
    to the crystal pose; saved to `path` (reused on resume). Each complex's receptor crop is reproducible
    from its index (docking.training.data.complex_generator)."""
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    options, seed = config.confidence, config.trainer.seed
    count = len(items) if options.complexes <= 0 else min(options.complexes, len(items))
    entries: dict[str, list] = {"complex": [], "poses": [], "rmsd": []}
    for i in range(count):
        example = training_complex(items[i], config.data, complex_generator(seed, i))
        generator = torch.Generator().manual_seed(seed * 7919 + i)
        docked = dock_complex(models, example.graph, options.samples_per_complex, options.sampling_steps,
                              generator=generator, pocket_center=example.center if example.pocket else None)
        entries["complex"] += [i] * options.samples_per_complex
        entries["poses"] += list(docked.poses.cpu())
        entries["rmsd"] += symmetry_rmsd(items[i]["ligand_molblock"], docked.poses,
                                         items[i]["lig_pos_crystal"]).tolist()
    poses = {"complex": torch.tensor(entries["complex"]), "rmsd": torch.tensor(entries["rmsd"]),
             "poses": entries["poses"]}
    buffer = io.BytesIO()
    torch.save(poses, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return poses


def confidence_trainer(config: DockingTrainConfig, train_items: list[dict], val_items: list[dict],
                       run_dir: str | Path) -> Trainer:
    """Stage 3 -> RUN/confidence/ (poses.pt holds the sampled training poses, made on first use)."""
    rank, world_size = distributed_context()
    trainer_config = _trainer_config(config, "confidence", config.confidence.max_steps, config.confidence.lr)
    models = dataclasses.replace(load_docking_models(run_dir, trainer_config.device), confidence=None)
    out_dir = Path(run_dir) / "confidence"
    poses = sample_confidence_poses(models, train_items, config, out_dir / "poses.pt")
    hook = validation_hook(val_items, config, lambda ema: dataclasses.replace(models, confidence=ema.confidence),
                           encoder_picks=False, max_steps=trainer_config.max_steps, rank=rank)
    torch.manual_seed(trainer_config.seed)   # reproducible initial weights
    trainer = Trainer(ConfidenceStage(config.model), confidence_stage_loss,
                      confidence_batch_maker(train_items, poses, config.data, config.trainer.seed,
                                             config.confidence.rmsd_threshold, rank, world_size),
                      trainer_config, out_dir,
                      model_config=_stage_model_config(config, "confidence"), on_log=hook, run_config=config)
    return trainer


STAGE_TRAINERS = {"score": score_trainer, "prior": prior_trainer, "confidence": confidence_trainer}


def train_docking(config: DockingTrainConfig, train_items: list[dict], val_items: list[dict], run_dir: str | Path,
                  stages: tuple[str, ...] = ("score", "prior", "confidence")) -> None:
    """Run the given stages in order (each resumes from its own checkpoint; the prior is skipped at K = 0)."""
    for stage in stages:
        trainer = STAGE_TRAINERS[stage](config, train_items, val_items, run_dir)
        if trainer is not None:
            trainer.fit()


def train_docking_from_cache(config: DockingTrainConfig, cache_dir: str | Path, run_dir: str | Path,
                             split_dir: str | Path | None, stage: str = "all",
                             config_name: str = "config") -> tuple[tuple[str, ...], list[str]]:
    """`disco train docking`: the train (and val) complexes of a `disco prep` cache, by the split folder's
    train.txt / val.txt (all of the cache without one), the complexes a pocket crop cannot train on left
    out, then the requested stages ("all": every stage the config has). Returns (stages trained, why each
    left-out complex was left out)."""
    if split_dir is not None:
        split_dir = Path(split_dir)
        for name in ("train.txt", "val.txt"):
            if not (split_dir / name).is_file():
                raise InputError(str(split_dir), f"no {name} in the split folder")
        train_items = load_split_items(cache_dir, split_dir / "train.txt", config.data.target_pose)
        val_items = load_split_items(cache_dir, split_dir / "val.txt", "crystal")
    else:
        train_items, val_items = load_split_items(cache_dir, None, config.data.target_pose), []
    train_items, skipped = pocket_trainable(train_items, config.data)
    val_items, skipped_val = pocket_trainable(val_items, config.data)
    if not train_items:
        raise InputError(str(cache_dir), "no complex left to train on")
    stages = STAGES if stage == "all" else (stage,)
    if config.model.num_latents == 0:
        if stage == "prior":
            raise DiscoError(f"{config_name}: num_latents is 0, so there is no pointer prior to train")
        stages = tuple(s for s in stages if s != "prior")
    train_docking(config, train_items, val_items, run_dir, stages)
    return stages, skipped + skipped_val
