"""RULE.md's learned rescoring L: features of the saved poses, a listwise linear fit on the train runs, val top-1.

The features of each run are cached in the records folder as features_<run>.csv (committed), so the fit and the
val counts rerun from the records alone; a run without its cache is read from RUNS/<run> (the runs of
benchmarks/results/rescore_val20/RULE.md and ../rerank_val20/RULE.md) and --dataset, and its cache written to
--out.
    OMP_NUM_THREADS=1 python -m benchmarks.studies.rescore_val20 --records benchmarks/results/rescore_val20
Writes model.json, per_run.csv and summary.json to --out (default: the records folder).
"""

from __future__ import annotations

import ast
import csv
import json
import logging
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from scipy.optimize import minimize

from benchmarks.pool import SUCCESS_A
from benchmarks.studies import RUNS, log_to_console, output_folder, study_parser, write_rows
from data_prep.protein import read_heavy_atoms
from docking.physics.interaction_energy import CUTOFF_A, SWITCH_FROM_A, WEIGHTS, InteractionEnergy, receptor_atoms

STUDY = "rescore_val20"
TRAIN_RUNS = ("train20_a", "train20_b")
VAL_RUNS = {0: "val20_s0", 1: "val20_s1"}
FEATURES = ("gauss1", "gauss2", "repulsion", "hydrophobic", "hbond", "internal", "consensus", "contacts",
            "confidence")
log = logging.getLogger("rescore")


def term_sums(energy: InteractionEnergy, pos: torch.Tensor) -> torch.Tensor:
    """(S, 5) unweighted intermolecular term sums of each pose, with the energy's cutoff fade."""
    distance = torch.cdist(pos, energy.receptor.pos[None].expand(pos.shape[0], -1, -1))
    d = distance - energy.cross_radius
    fade = (distance - SWITCH_FROM_A).clamp(0.0, CUTOFF_A - SWITCH_FROM_A) / (CUTOFF_A - SWITCH_FROM_A)
    fade = 0.5 * (1.0 + torch.cos(torch.pi * fade))
    terms = [torch.exp(-(d / 0.5) ** 2), torch.exp(-((d - 3.0) / 2.0) ** 2), torch.where(d < 0, d * d, 0 * d),
             energy.cross_hydrophobic * (1.5 - d).clamp(0.0, 1.0), energy.cross_hbond * (-d / 0.7).clamp(0.0, 1.0)]
    return torch.stack([(t * fade).sum((-1, -2)) for t in terms], -1)


def run_features(record: Path, dataset: Path) -> tuple[np.ndarray, np.ndarray]:
    """(S, len(FEATURES)) features and (S,) RMSDs of one saved run."""
    result = json.loads(record.read_text())
    name = result["id"]
    extras = result["extras"] if isinstance(result["extras"], dict) else ast.literal_eval(result["extras"])
    poses = list(Chem.SDMolSupplier(str(record.with_suffix(".sdf")), removeHs=False))
    mol = Chem.RemoveHs(poses[0])
    pos = torch.tensor(np.stack([Chem.RemoveHs(p).GetConformer().GetPositions() for p in poses]), dtype=torch.float32)
    center = pos.reshape(-1, 3).mean(0)
    extent = float((pos - center).norm(dim=-1).max())
    atoms = receptor_atoms(read_heavy_atoms(dataset / name / f"{name}_protein.pdb"), center.double(), extent + 16.0)
    energy = InteractionEnergy.for_ligand(mol, atoms)
    rmsd_between = ((pos[:, None] - pos[None]) ** 2).sum(-1).mean(-1).sqrt()
    consensus = ((rmsd_between < 2.0).sum(1) - 1).float() / max(len(poses) - 1, 1)
    contacts = (torch.cdist(pos, atoms.pos[None].expand(len(poses), -1, -1)) < 4.5).sum(-1).float().mean(-1)
    columns = torch.cat([term_sums(energy, pos), energy.internal(pos)[:, None], consensus[:, None],
                         contacts[:, None], torch.tensor(extras["confidences"], dtype=torch.float32)[:, None]], 1)
    return columns.numpy().astype(np.float64), np.asarray(result["rmsd"], dtype=float)


def load(run: str, records: Path, runs: Path, dataset: Path, out: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(id, features, rmsd)] of a run's ok records, from features_<run>.csv in the records (or else computed from
    runs/<run> and cached in out)."""
    cache = records / f"features_{run}.csv"
    if not cache.is_file():
        cache = out / cache.name
        rows = []
        for record in sorted((runs / run / "disco").glob("*.json")):
            if json.loads(record.read_text())["status"] != "ok":
                continue
            x, rmsd = run_features(record, dataset)
            rows += [{"id": record.stem, "pose": k, "rmsd": rmsd[k], **dict(zip(FEATURES, x[k].round(5)))}
                     for k in range(len(rmsd))]
            log.info("%s %s", run, record.stem)
        write_rows(cache, rows)
    grouped: dict[str, list[dict]] = {}
    with open(cache, newline="") as handle:
        for row in csv.DictReader(handle):
            grouped.setdefault(row["id"], []).append(row)
    return [(name, np.array([[float(r[f]) for f in FEATURES] for r in rows]),
             np.array([float(r["rmsd"]) for r in rows])) for name, rows in grouped.items()]


def fit(train: list[tuple[str, np.ndarray, np.ndarray]], l2: float = 1.0) -> dict:
    """Listwise softmax fit of a linear score on standardised features (higher score: ranked first)."""
    informative = [(x, rmsd < 2.0) for _, x, rmsd in train if 0 < (rmsd < 2.0).sum() < len(rmsd)]
    stacked = np.vstack([x for x, _ in informative])
    mean, scale = stacked.mean(0), stacked.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    groups = [((x - mean) / scale, good) for x, good in informative]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = 0.5 * l2 * w @ w, l2 * w
        for z, good in groups:
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = p * good / (p * good).sum()
            loss -= np.log((p * good).sum())
            grad = grad + z.T @ (p - q)
        return float(loss), grad

    w = minimize(objective, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B").x
    return {"features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(), "weights": w.tolist(),
            "train_runs": len(train), "informative_runs": len(groups), "l2": l2}


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, dataset=True)
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="DIR",
                        help="the folder holding the runs (train20_a, train20_b, val20_s0, val20_s1) whose features "
                             "are not cached in the records (default <repository>/runs)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    torch.set_num_threads(1)
    train = [run for name in TRAIN_RUNS for run in load(name, args.records, args.runs, args.dataset, out)]
    model = fit(train)
    (out / "model.json").write_text(json.dumps(model, indent=1) + "\n")
    log.info("%s", model)
    w, mean, scale = (np.asarray(model[k]) for k in ("weights", "mean", "scale"))
    rows = []
    for seed, run in VAL_RUNS.items():
        for name, x, rmsd in load(run, args.records, args.runs, args.dataset, out):
            pick_l = int(np.argmax(((x - mean) / scale) @ w))
            inter = x[:, :5] @ np.array([WEIGHTS[term] for term in FEATURES[:5]])
            rows.append({"seed": seed, "id": name, "top1_rmsd_E": rmsd[0], "top1_rmsd_I": rmsd[int(inter.argmin())],
                         "top1_rmsd_L": rmsd[pick_l], "best_rmsd": rmsd.min()})
    write_rows(out / "per_run.csv", rows)
    counts = {k: {str(s): int(sum(r[f"top1_rmsd_{k}"] < SUCCESS_A for r in rows if r["seed"] == s)) for s in VAL_RUNS}
              for k in ("E", "I", "L")}
    summary = {"runs": len(rows), "top1_below_2A": {k: sum(v.values()) for k, v in counts.items()},
               "top1_below_2A_per_seed": counts,
               "best_of_20_below_2A": int(sum(r["best_rmsd"] < SUCCESS_A for r in rows))}
    total = summary["top1_below_2A"]
    summary["rule_met"] = bool(total["L"] >= total["E"] + 5 and total["L"] >= total["I"] + 2
                               and all(counts["L"][s] >= counts["E"][s] for s in counts["E"]))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log.info("%s", json.dumps(summary))


if __name__ == "__main__":
    log_to_console()
    main()
