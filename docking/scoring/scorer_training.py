"""Training the pose scorer (`disco train pose-scorer`): from decoy parts to a model-folder file.

One group per complex: its poses' features and RMSDs. The scorer learns to order a group, the way docking uses it:

    loss = - log sum_{i: rmsd_i < 2 A} softmax(logits)_i                  listwise: a near-native pose on top
           + POINTWISE_WEIGHT * BCE(logit_i, rmsd_i < 2 A)                pointwise: a probability, for calibration

Groups without a near-native pose add only the pointwise part. The epoch kept is the one with the lowest listwise
loss on a share of the training complexes held out by name (never val or test: those decide, elsewhere, whether
the scorer is used). Platt calibration (`fit_calibration`) is fitted afterwards on poses the scorer never saw.
"""

from __future__ import annotations

import copy
import logging
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from scipy.optimize import minimize

from data_prep.inputs import ComplexJob
from data_prep.ligand import read_ligand_file
from data_prep.protein import read_heavy_atoms
from disco_core.errors import InputError
from docking.scoring.decoys import ComplexDecoys, read_part
from docking.scoring.pose_features import ComplexFeaturizer
from docking.scoring.pose_scorer import PoseScorer

log = logging.getLogger(__name__)

NEAR_NATIVE_A = 2.0
POINTWISE_WEIGHT = 0.5


@dataclass(frozen=True)
class ScorerSettings:
    hidden: tuple[int, ...] = (128, 64)
    epochs: int = 40
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    complexes_per_step: int = 16
    held_out_share: float = 0.1
    seed: int = 0


@dataclass
class Group:
    """The poses of one complex, as the scorer is trained on them."""
    name: str
    features: torch.Tensor       # (P, F)
    rmsd: torch.Tensor           # (P,)
    source: np.ndarray           # (P,) decoy source (docking.scoring.decoys.SOURCES)


def read_parts(parts: list[Path]) -> list[ComplexDecoys]:
    """The decoys of every part, one entry per (part, complex)."""
    return [decoys for part in parts for decoys in read_part(part)[0]]


def complex_groups(decoys: list[ComplexDecoys], complexes: dict[str, ComplexJob]) -> tuple[list[Group], dict[str, str]]:
    """One group per complex (all its decoys together, whatever part they came from), featurised against its
    protein; a complex that `complexes` lacks, or whose files cannot be read, is skipped and recorded with the
    reason."""
    by_name: dict[str, list[ComplexDecoys]] = {}
    for entry in decoys:
        by_name.setdefault(entry.name, []).append(entry)
    groups, failures = [], {}
    for name in sorted(by_name):
        job = complexes.get(name)
        try:
            if job is None:
                raise InputError(name, "not among the given datasets' complexes")
            mol = Chem.RemoveHs(read_ligand_file(job.ligand, job.ligand_fallbacks).mol, sanitize=False)
            coords = np.concatenate([d.coords for d in by_name[name]])
            if coords.shape[1] != mol.GetNumAtoms():
                raise InputError(name, f"decoys have {coords.shape[1]} atoms, the ligand {mol.GetNumAtoms()}")
            featurizer = ComplexFeaturizer.around(mol, read_heavy_atoms(job.protein_path), coords)
            groups.append(Group(name, featurizer(coords),
                                torch.as_tensor(np.concatenate([d.rmsd for d in by_name[name]]), dtype=torch.float32),
                                np.concatenate([d.source for d in by_name[name]])))
        except InputError as exc:
            failures[name] = exc.reason
            log.warning("%s: skipped (%s)", name, exc.reason)
    return groups, failures


def only_sources(groups: list[Group], sources: tuple[int, ...]) -> list[Group]:
    """The groups' poses of the given decoy sources (docking.scoring.decoys.SOURCES indices); a group left
    without poses is dropped."""
    kept = []
    for group in groups:
        mask = np.isin(group.source, sources)
        if mask.any():
            keep = torch.as_tensor(mask)
            kept.append(Group(group.name, group.features[keep], group.rmsd[keep], group.source[mask]))
    return kept


def held_out(name: str, share: float) -> bool:
    """Whether a training complex is held out for choosing the epoch: a fixed function of its name."""
    return zlib.crc32(name.encode()) % 1000 < share * 1000


def group_losses(scorer: PoseScorer, groups: list[Group]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean listwise loss (over groups with a near-native pose) and mean pointwise loss (over all poses)."""
    listwise, pointwise, counted = [], [], 0
    for group in groups:
        logits = scorer(group.features)
        near = group.rmsd < NEAR_NATIVE_A
        if bool(near.any()):
            listwise.append(torch.logsumexp(logits, 0) - torch.logsumexp(logits[near], 0))
        pointwise.append(torch.nn.functional.binary_cross_entropy_with_logits(logits, near.float(), reduction="sum"))
        counted += len(logits)
    listwise_mean = torch.stack(listwise).mean() if listwise else torch.zeros(())
    return listwise_mean, torch.stack(pointwise).sum() / max(counted, 1)


def train_scorer(groups: list[Group], settings: ScorerSettings = ScorerSettings()) -> tuple[PoseScorer, list[dict]]:
    """A scorer trained on `groups`, with the per-epoch history (train and held-out losses)."""
    torch.manual_seed(settings.seed)
    fit = [g for g in groups if not held_out(g.name, settings.held_out_share)]
    check = [g for g in groups if held_out(g.name, settings.held_out_share)] or fit
    scorer = PoseScorer(settings.hidden, groups[0].features.shape[1])
    everything = torch.cat([g.features for g in fit])
    scorer.mean.copy_(everything.mean(0))
    scorer.std.copy_(everything.std(0).clamp_min(1e-3))
    optimizer = torch.optim.Adam(scorer.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    history, best, best_loss = [], copy.deepcopy(scorer.state_dict()), float("inf")
    for epoch in range(1, settings.epochs + 1):
        scorer.train()
        order = torch.randperm(len(fit), generator=generator).tolist()
        for start in range(0, len(order), settings.complexes_per_step):
            batch = [fit[i] for i in order[start:start + settings.complexes_per_step]]
            listwise, pointwise = group_losses(scorer, batch)
            optimizer.zero_grad()
            (listwise + POINTWISE_WEIGHT * pointwise).backward()
            optimizer.step()
        scorer.eval()
        with torch.no_grad():
            train_list, train_point = group_losses(scorer, fit)
            check_list, check_point = group_losses(scorer, check)
        history.append({"epoch": epoch, "train_listwise": round(float(train_list), 5),
                        "train_pointwise": round(float(train_point), 5),
                        "held_out_listwise": round(float(check_list), 5),
                        "held_out_pointwise": round(float(check_point), 5),
                        "held_out_top1_lt2": top1_hits(scorer, check)})
        log.info("epoch %d: %s", epoch, history[-1])
        if float(check_list) < best_loss:
            best_loss, best = float(check_list), copy.deepcopy(scorer.state_dict())
    scorer.load_state_dict(best)
    scorer.record = {"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
                     "complexes": len(groups),
                     "held_out": [g.name for g in groups if held_out(g.name, settings.held_out_share)],
                     "poses": int(sum(len(g.rmsd) for g in groups)),
                     "best_epoch": min(history, key=lambda h: h["held_out_listwise"])["epoch"]}
    return scorer.eval(), history


@torch.no_grad()
def top1_hits(scorer: PoseScorer, groups: list[Group]) -> int:
    """Groups whose highest-scored pose is within NEAR_NATIVE_A."""
    return sum(int(float(g.rmsd[int(scorer(g.features).argmax())]) < NEAR_NATIVE_A) for g in groups)


def fit_calibration(logits: np.ndarray, near_native: np.ndarray) -> tuple[float, float]:
    """Platt scaling: (a, b) maximising the likelihood of sigmoid(a * logit + b) for the labels (a > 0 keeps the
    order)."""
    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(near_native, dtype=np.float64)

    def loss(params: np.ndarray) -> float:
        z = params[0] * x + params[1]
        return float(np.sum(np.logaddexp(0.0, z) - y * z))

    result = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(1e-3, None), (None, None)])
    return float(result.x[0]), float(result.x[1])
