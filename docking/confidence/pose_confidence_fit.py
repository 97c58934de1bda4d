"""`disco train pose-confidence`: fit docking.confidence.pose_confidence on the guided poses of `disco bench dock` runs.

    features   each record's poses (RUN/<method>/<id>.sdf, energies as SD properties) are put back into the
               graph the pipeline docked them in (crystal-ligand centre, as `--pocket reference` runs use)
               and featurised exactly as `disco dock` does (docking.confidence.pose_confidence.guided_pose_features)
    labels     the record's RMSD to the crystal ligand < 2 A
    fit        logistic regression on the train runs; Platt scaling on the calibration runs (validation);
               figures on every set: AUC, log-loss against the best constant, ECE, top-1 < 2 A when ranked
               by the learned confidence and by energy (the same poses, so the two rankings compare directly)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from rdkit import Chem
from scipy.special import expit
from torch_geometric.data import Batch

from data_prep.ligand import read_ligand_file
from disco_core.errors import InputError
from docking.confidence.calibration import auc, expected_calibration_error, fit_platt
from docking.confidence.pose_confidence import PoseConfidence, fit_logistic
from docking.model.complex_sampling import docking_input
from docking.model.loading import DockingModels
from docking.confidence.pose_confidence import guided_pose_features

SUCCESS_RMSD_A = 2.0

logger = logging.getLogger(__name__)


class FeaturizingPipeline(Protocol):
    """What the fit needs of a docking pipeline (docking.inference.pipeline.DockingPipeline is one): the
    loaded networks, a protein's receptor and a ligand featurised in it, as `disco dock` prepares them."""

    models: DockingModels

    def receptor(self, protein_path: str | Path) -> dict: ...

    def featurize(self, receptor: dict, name: str, ligand) -> tuple[dict, Chem.Mol]: ...


@dataclass
class PoseSet:
    complex_id: str
    features: np.ndarray    # (S, F)
    rmsd: np.ndarray        # (S,)
    energies: np.ndarray    # (S,)


def run_records(run: str | Path, method: str) -> list[Path]:
    """The per-complex records (json) of one method of a bench run, in id order."""
    run = Path(run)
    config = run / "config.json"
    if not config.is_file():
        raise InputError(str(run), "not a `disco bench dock` run folder (no config.json)")
    pocket = json.loads(config.read_text()).get("settings", {}).get("pocket")
    if pocket != "reference":
        raise InputError(str(run), f"docked with --pocket {pocket}; the fit needs --pocket reference runs")
    records = [path for path in sorted(run.glob("*/*.json"))
               if json.loads(path.read_text()).get("method") == method]
    if not records:
        raise InputError(str(run), f"no {method} records")
    return records


def crystal_center(dataset: Path, complex_id: str) -> torch.Tensor:
    """The centre `--pocket reference` docks at: the crystal ligand's centroid."""
    folder = dataset / complex_id
    crystal = read_ligand_file(folder / f"{complex_id}_ligand.sdf", (folder / f"{complex_id}_ligand.mol2",)).mol
    return torch.tensor(crystal.GetConformer().GetPositions(), dtype=torch.float32).mean(0)


@torch.no_grad()
def record_pose_set(pipeline: FeaturizingPipeline, record: Path, dataset: Path) -> PoseSet | None:
    """One record's poses, featurised; None for a record without poses or energies."""
    data = json.loads(record.read_text())
    if data.get("status") != "ok" or not data.get("rmsd"):
        return None
    if not record.with_suffix(".sdf").is_file():
        raise InputError(str(record), "its poses (.sdf) are missing")
    complex_id = data["id"]
    mols = [mol for mol in Chem.SDMolSupplier(str(record.with_suffix(".sdf")))]
    if any(mol is None or not mol.HasProp("interaction_energy") for mol in mols):
        return None
    models = pipeline.models
    receptor = pipeline.receptor(dataset / complex_id / f"{complex_id}_protein.pdb")
    item, _ = pipeline.featurize(receptor, complex_id, mols[0])
    graph = docking_input(models, item, None, crystal_center(dataset, complex_id)).graph
    poses = torch.tensor(np.stack([mol.GetConformer().GetPositions() for mol in mols]), dtype=torch.float32)
    if poses.shape[1] != graph["ligand"].num_nodes:
        raise InputError(str(record), f"poses have {poses.shape[1]} atoms, the ligand graph {graph['ligand'].num_nodes}")
    energies = torch.tensor([float(mol.GetProp("interaction_energy")) for mol in mols])
    batch = Batch.from_data_list([graph] * len(mols)).to(models.device)
    batch["ligand"].pos = poses.reshape(-1, 3).to(models.device)
    logits = (models.confidence(batch) if models.confidence is not None
              else torch.zeros(len(mols), device=models.device))
    num_rotatable = graph["ligand", "rot", "ligand"].edge_index.shape[1]
    features = guided_pose_features(models, batch, [poses.to(models.device)], [energies.to(models.device)],
                                    logits.reshape(1, -1), [num_rotatable])[0]
    return PoseSet(complex_id, features.cpu().numpy(), np.asarray(data["rmsd"], float), energies.numpy())


def load_pose_sets(pipeline: FeaturizingPipeline, runs: list[str], dataset: Path, method: str) -> list[PoseSet]:
    sets = []
    for run in runs:
        for record in run_records(run, method):
            try:
                pose_set = record_pose_set(pipeline, record, dataset)
            except InputError as exc:
                logger.warning("skipped %s", exc)
                continue
            if pose_set is not None:
                sets.append(pose_set)
    return sets


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probabilities, 1e-6, 1 - 1e-6)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log1p(-p)))


def evaluate(model: PoseConfidence, sets: list[PoseSet], constant: float) -> dict:
    """Pooled discrimination and calibration, and top-1 < 2 A by confidence and by energy, on one set."""
    probabilities = np.concatenate([model.probabilities(s.features) for s in sets])
    labels = np.concatenate([s.rmsd < SUCCESS_RMSD_A for s in sets])
    by_confidence = sum(bool(s.rmsd[int(np.argmax(model.logits(s.features)))] < SUCCESS_RMSD_A) for s in sets)
    by_energy = sum(bool(s.rmsd[int(np.argmin(s.energies))] < SUCCESS_RMSD_A) for s in sets)
    # what a user reading `--accurate`'s rank-1 pose sees: its confidence, and how often a confident one is right
    top = [(float(model.probabilities(s.features[[int(np.argmin(s.energies))]])[0]),
            bool(s.rmsd[int(np.argmin(s.energies))] < SUCCESS_RMSD_A)) for s in sets]
    confident = [right for probability, right in top if probability >= 0.5]
    return {"complexes": len(sets), "poses": int(len(labels)), "success_rate": round(float(labels.mean()), 4),
            "auc": round(auc(probabilities, labels), 4), "log_loss": round(log_loss(probabilities, labels), 4),
            "log_loss_constant": round(log_loss(np.full(len(labels), constant), labels), 4),
            "ece": round(expected_calibration_error(probabilities, labels), 4),
            "top1_by_confidence": by_confidence, "top1_by_energy": by_energy,
            "best_of_n": sum(bool((s.rmsd < SUCCESS_RMSD_A).any()) for s in sets),
            "energy_top1_confidence_at_least_half": len(confident), "of_which_within_2A": sum(confident)}


def fit_pose_confidence(pipeline: FeaturizingPipeline, train_runs: list[str], calibrate_runs: list[str],
                        check_runs: list[str], dataset: str | Path, method: str = "disco",
                        l2: float = 1.0, out: str | Path | None = None) -> PoseConfidence:
    """Fit on the train runs, calibrate on the calibration runs, report on all three (model.report); with
    `out`, also save it there (e.g. MODEL/pose_confidence.json)."""
    dataset = Path(dataset)
    train = load_pose_sets(pipeline, train_runs, dataset, method)
    calibrate = load_pose_sets(pipeline, calibrate_runs, dataset, method)
    if not train or not calibrate:
        raise InputError("--runs" if not train else "--calibrate-runs", "no usable records")
    shared = sorted({s.complex_id for s in train} & {s.complex_id for s in calibrate})
    if shared:
        logger.warning("warning: %d complexes (%s) are in both the train and the calibration runs: their "
                       "calibration figures are not held out", len(shared), ", ".join(shared[:5]))
    x = np.concatenate([s.features for s in train])
    y = np.concatenate([s.rmsd < SUCCESS_RMSD_A for s in train])
    model = fit_logistic(x, y, l2)
    calibration_logits = np.concatenate([model.logits(s.features) for s in calibrate])
    calibration_labels = np.concatenate([s.rmsd < SUCCESS_RMSD_A for s in calibrate])
    platt = fit_platt(expit(calibration_logits), calibration_labels, "calibration runs")
    model.platt_a, model.platt_b = platt.a, platt.b
    constant = float(calibration_labels.mean())
    report = {"method": method, "l2": l2, "train_runs": train_runs, "calibrate_runs": calibrate_runs,
              "check_runs": check_runs, "constant": round(constant, 4),
              "train": evaluate(model, train, constant), "calibrate": evaluate(model, calibrate, constant)}
    if check_runs:
        report["check"] = evaluate(model, load_pose_sets(pipeline, check_runs, dataset, method), constant)
    report["train_ids"] = sorted(s.complex_id for s in train)
    model.report = report
    if out is not None:
        model.save(out)
    return model
