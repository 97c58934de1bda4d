"""A model folder: what `disco dock --model DIR` loads and what the package bundles.

    DIR/score/checkpoint.pt, DIR/prior/checkpoint.pt, DIR/confidence/checkpoint.pt
        each the stage's network config + EMA weights only (no optimizer, no training state)
    DIR/calibration.json     Platt scaling of the confidence (docking.confidence.calibration), fitted on held-out poses
    DIR/MODEL.md             how it was trained and calibrated, with the measured figures

`export_model_folder` strips a training run down to that; `calibrate_model_folder` docks held-out
complexes with the pocket given and fits the calibration; `export_docking_model` does both, as
`disco train docking-export` runs them, and writes the figures as DIR/calibration_report.json.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from data_prep.pose_rmsd import symmetry_rmsd
from disco_core.checkpoint import load_checkpoint, save_checkpoint
from disco_core.errors import CheckpointError
from disco_core.io import atomic_write_text
from docking.confidence.calibration import Calibration, expected_calibration_error, fit_platt
from docking.model.loading import STAGES, load_docking_models
from docking.model.complex_sampling import dock_complex
from docking.training.data import load_split_items


def export_model_folder(run_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Copy each trained stage's config and EMA weights from a run into a model folder."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    written = []
    for stage in STAGES:
        source = run_dir / stage / "checkpoint.pt"
        if not source.is_file():
            if stage == "score":
                raise CheckpointError(f"{run_dir}: no score-stage checkpoint to export")
            continue
        config, state = load_checkpoint(source)
        (out_dir / stage).mkdir(parents=True, exist_ok=True)
        target = out_dir / stage / "checkpoint.pt"
        save_checkpoint(target, {"model": config["model"], "step": state.get("step")}, {"ema": state["ema"]})
        written.append(target)
    return written


def dock_held_out(model_dir: str | Path, items: list[dict], samples: int, steps: int, seed: int = 0,
                  device: str = "cpu") -> dict[str, np.ndarray]:
    """Dock cached complexes into their crystal pocket (centre = crystal ligand centroid): raw confidence
    and symmetry-corrected RMSD per pose, complex index per pose (poses in confidence order)."""
    models = load_docking_models(model_dir, device)
    raw, rmsd, complex_index = [], [], []
    for i, item in enumerate(items):
        generator = torch.Generator().manual_seed(seed * 1_000_003)
        center = item["lig_pos_crystal"].double().mean(0)
        docked = dock_complex(models, item, samples, steps, generator=generator, pocket_center=center)
        raw += docked.confidences.cpu().tolist()
        rmsd += symmetry_rmsd(item["ligand_molblock"], docked.poses, item["lig_pos_crystal"]).tolist()
        complex_index += [i] * samples
    return {"raw": np.array(raw), "rmsd": np.array(rmsd), "complex": np.array(complex_index)}


def calibrate_model_folder(model_dir: str | Path, items: list[dict], split_name: str, samples: int = 10,
                           steps: int = 20, seed: int = 0) -> tuple[Calibration, dict[str, float]]:
    """Fit and save DIR/calibration.json on held-out complexes; returns it with docking figures."""
    result = dock_held_out(model_dir, items, samples, steps, seed)
    labels = (result["rmsd"] < 2.0).astype(float)
    calibration = fit_platt(result["raw"], labels, f"{split_name}: {len(items)} complexes x {samples} poses, "
                                                   f"pocket given, {steps} steps")
    calibration.save(Path(model_dir) / "calibration.json")
    first = result["complex"] != np.roll(result["complex"], 1)
    first[0] = True
    per_complex_best = [result["rmsd"][result["complex"] == i].min() for i in range(len(items))]
    figures = {"top1_lt2": float((result["rmsd"][first] < 2).mean()),
               "best_of_n_lt2": float(np.mean(np.array(per_complex_best) < 2)),
               "median_top1_rmsd": float(statistics.median(result["rmsd"][first].tolist())),
               "pose_success": float(labels.mean()),
               "ece_before": calibration.ece_before, "ece_after": calibration.ece_after}
    return calibration, figures


def calibration_error_on(model_dir: str | Path, items: list[dict], samples: int = 10, steps: int = 20,
                         seed: int = 0) -> float:
    """ECE of the folder's calibrated confidence on other complexes (e.g. the test split)."""
    result = dock_held_out(model_dir, items, samples, steps, seed)
    probabilities = Calibration.load(Path(model_dir) / "calibration.json").probabilities(result["raw"])
    return expected_calibration_error(np.array(probabilities), (result["rmsd"] < 2.0).astype(float))


@dataclass
class ExportedModel:
    stages: list[Path]                          # the checkpoints written
    calibration_report: dict | None = None      # Platt a, b and the docking figures, when calibrated


def export_docking_model(run_dir: str | Path, out_dir: str | Path, calibrate_data: str | Path | None = None,
                         calibrate_split: str | Path | None = None, check_split: str | Path | None = None,
                         samples: int = 10, steps: int = 20) -> ExportedModel:
    """Export a run into a model folder; with a processed cache and the ids of held-out complexes in it,
    also fit the folder's calibration on them (and, with check_split, measure its ECE on other complexes),
    writing the figures as DIR/calibration_report.json."""
    written = export_model_folder(run_dir, out_dir)
    if calibrate_data is None:
        return ExportedModel(written)
    if calibrate_split is None:
        raise ValueError("calibrate_data needs calibrate_split (the held-out ids)")
    items = load_split_items(calibrate_data, calibrate_split, "crystal")
    calibration, figures = calibrate_model_folder(out_dir, items, Path(calibrate_split).name, samples, steps)
    report = {"a": calibration.a, "b": calibration.b, **figures}
    if check_split:
        held_out = load_split_items(calibrate_data, check_split, "crystal")
        report[f"ece_{Path(check_split).stem}"] = calibration_error_on(out_dir, held_out, samples, steps)
    atomic_write_text(Path(out_dir) / "calibration_report.json", json.dumps(report, indent=2) + "\n")
    return ExportedModel(written, report)
