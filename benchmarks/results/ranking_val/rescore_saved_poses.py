"""Rule 4's numbers: rank the ten poses the default wrote in the val runs by (a) their calibrated confidence
and (b) AutoDock Vina's score of each pose as written, beside the energy ranking they were written in.
Run from the repository root after the runs of benchmarks/results/default_vs_vina exist under runs/."""

import ast
import csv
import json
import logging
from pathlib import Path

import numpy as np
from rdkit import Chem

from docking.physics.vina import DEFAULT_MIN_BOX_SIZE, DEFAULT_PADDING, _vina, box_around_points, prepare_ligand
from docking.physics.vina_receptor import prepare_receptor

DATA = Path("../shared/data/complexes")
logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("rescore_saved_poses")
rows = []
for seed in (0, 1):
    run = Path(f"runs/final_val_s{seed}")
    for record in sorted((run / "disco").glob("*.json")):
        result = json.loads(record.read_text())
        extras = ast.literal_eval(result["extras"]) if isinstance(result["extras"], str) else result["extras"]
        poses = list(Chem.SDMolSupplier(str(record.with_suffix(".sdf")), removeHs=False))
        receptor = prepare_receptor(DATA / result["id"] / f"{result['id']}_protein.pdb", run / "receptors")
        ligands = [prepare_ligand(pose, pose.GetConformer().GetPositions())[0] for pose in poses]
        box = box_around_points(np.vstack([p.GetConformer().GetPositions() for p in poses]),
                                padding=DEFAULT_PADDING + 4.0, min_size=DEFAULT_MIN_BOX_SIZE)
        engine = _vina(receptor, ligands[0], box, seed=0, cpu=1, name=result["id"])   # maps once per run
        vina = []
        for ligand in ligands:      # Vina's score_only of each pose as written (as vina_score does, one box)
            engine.set_ligand_from_string(ligand)
            vina.append(float(engine.score()[0]))
        confidence = extras["confidences"]
        rmsd = result["rmsd"]
        pick = {"energy": 0, "confidence": max(range(len(rmsd)), key=lambda i: confidence[i]),
                "vina": min(range(len(rmsd)), key=lambda i: vina[i])}
        rows.append({"seed": seed, "id": result["id"], **{f"top1_rmsd_{k}": rmsd[i] for k, i in pick.items()},
                     "best_rmsd": min(rmsd)})
        log.info("%s", rows[-1])
with open("benchmarks/results/ranking_val/per_run.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
summary = {k: sum(r[f"top1_rmsd_{k}"] < 2 for r in rows) for k in ("energy", "confidence", "vina")}
summary.update(best_of_10=sum(r["best_rmsd"] < 2 for r in rows), runs=len(rows))
Path("benchmarks/results/ranking_val/summary.json").write_text(json.dumps(summary, indent=1) + "\n")
log.info("%s", summary)
