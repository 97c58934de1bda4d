"""Search or energy? For val complexes where Vina's pose is right and ours is not: pool our ten poses with Vina's,
minimise every pose 500 steps in our pairwise energy (rerank_val20_rerank_saved_poses' `reminimised`), and see
where Vina's near-native pose lands in our energy. Lower than our top-1: our search missed a basin our energy
prefers. Higher: our energy prefers the decoy, and more search would not help.

After `disco bench dock ... --methods disco,vina --seed 0 --out runs/diag/{a,b}`:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.search_or_energy_val3_diagnose runs/diag/a runs/diag/b
Writes per_complex.csv to --out (default benchmarks/results/search_or_energy_val3)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from benchmarks.pose_metrics import pose_errors, read_references
from benchmarks.studies import log_to_console, output_folder, study_parser, write_rows
from benchmarks.studies.rerank_val20_rerank_saved_poses import reminimised

STUDY = "search_or_energy_val3"
log = logging.getLogger("diagnose")


def method_poses(run: Path, method: str, name: str) -> list[Chem.Mol]:
    folder = next(p for p in run.iterdir() if p.is_dir() and p.name.split("-")[0] == method)
    return [p for p in Chem.SDMolSupplier(str(folder / f"{name}.sdf"), removeHs=False)]


def diagnose(run: Path, name: str, dataset: Path) -> dict:
    ours = [Chem.RemoveHs(p) for p in method_poses(run, "disco", name)]
    vina = [Chem.RemoveHs(p) for p in method_poses(run, "vina", name)]
    symbols = [a.GetSymbol() for a in ours[0].GetAtoms()]
    assert all([a.GetSymbol() for a in p.GetAtoms()] == symbols for p in vina), f"{name}: atom orders differ"
    references = read_references(dataset / name, name)
    protein = dataset / name / f"{name}_protein.pdb"
    pooled = ours + vina
    rmsd_before = pose_errors(pooled, references).rmsd
    moved, energy_after, energy_before, _ = reminimised(pooled, protein)
    rmsd_after = pose_errors(moved, references).rmsd
    n = len(ours)
    vina_best = n + int(rmsd_before[n:].argmin())
    order = np.argsort(energy_after)
    return {"id": name, "our_top1_rmsd": round(float(rmsd_before[0]), 3),
            "our_best_rmsd": round(float(rmsd_before[:n].min()), 3),
            "vina_top1_rmsd": round(float(rmsd_before[n]), 3),
            "vina_best_rmsd": round(float(rmsd_before[vina_best]), 3),
            "E_our_top1": round(float(energy_after[0]), 3),
            "E_our_lowest": round(float(energy_after[:n].min()), 3),
            "E_vina_best_pose": round(float(energy_after[vina_best]), 3),
            "vina_best_pose_rmsd_after_our_minimisation": round(float(rmsd_after[vina_best]), 3),
            "vina_best_pose_rank_in_pool": int(np.where(order == vina_best)[0][0]) + 1,
            "pool_top1_rmsd_after": round(float(rmsd_after[order[0]]), 3), "pool_size": len(pooled)}


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False, dataset=True)
    parser.add_argument("runs", nargs="+", type=Path, help="`disco bench dock --methods disco,vina` run folders")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    torch.set_num_threads(1)
    rows = []
    for run in args.runs:
        split = json.loads((run / "config.json").read_text())["settings"]["split"]
        with open(split) as handle:
            names = [line.strip() for line in handle if line.strip()]
        for name in names:
            rows.append(diagnose(run, name, args.dataset))
            log.info("%s", rows[-1])
    write_rows(out / "per_complex.csv", rows)


if __name__ == "__main__":
    log_to_console()
    main()
