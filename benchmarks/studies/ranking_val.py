"""Rule 4's numbers: rank the ten poses the default wrote in the val runs by (a) their calibrated confidence
and (b) AutoDock Vina's score of each pose as written, beside the energy ranking they were written in.
After the runs of benchmarks/results/default_vs_vina exist as RUNS/final_val_s{0,1}:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.ranking_val --runs runs
Writes per_run.csv and summary.json to --out (default benchmarks/results/ranking_val)."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import numpy as np
from rdkit import Chem

from benchmarks.pool import SUCCESS_A
from benchmarks.studies import RUNS, log_to_console, output_folder, study_parser, write_rows
from docking.physics.vina import DEFAULT_MIN_BOX_SIZE, DEFAULT_PADDING, box_around_points, prepare_ligand
from docking.physics.vina_receptor import prepare_receptor

STUDY = "ranking_val"
SEEDS = (0, 1)
log = logging.getLogger("rescore_saved_poses")


def vina_scores(poses: list[Chem.Mol], protein: Path, cache: Path, name: str) -> list[float]:
    """Vina's score_only of each pose as written, one set of maps per run (a box over all the poses).

    Uses docking.physics.vina.vina_engine directly (`vina_score` computes maps around each pose, not one set
    per run, so it would not repeat the records)."""
    from docking.physics.vina import vina_engine

    receptor = prepare_receptor(protein, cache)
    ligands = [prepare_ligand(pose, pose.GetConformer().GetPositions())[0] for pose in poses]
    box = box_around_points(np.vstack([p.GetConformer().GetPositions() for p in poses]),
                            padding=DEFAULT_PADDING + 4.0, min_size=DEFAULT_MIN_BOX_SIZE)
    engine = vina_engine(receptor, ligands[0], box, seed=0, cpu=1, name=name)   # maps once per run
    scores = []
    for ligand in ligands:      # as vina_score does, in one box
        engine.set_ligand_from_string(ligand)
        scores.append(float(engine.score()[0]))
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False, dataset=True)
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="DIR",
                        help="the folder holding the runs final_val_s<seed> (default <repository>/runs)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    rows = []
    for seed in SEEDS:
        run = args.runs / f"final_val_s{seed}"
        for record in sorted((run / "disco").glob("*.json")):
            result = json.loads(record.read_text())
            extras = ast.literal_eval(result["extras"]) if isinstance(result["extras"], str) else result["extras"]
            poses = list(Chem.SDMolSupplier(str(record.with_suffix(".sdf")), removeHs=False))
            vina = vina_scores(poses, args.dataset / result["id"] / f"{result['id']}_protein.pdb", run / "receptors",
                               result["id"])
            confidence = extras["confidences"]
            rmsd = result["rmsd"]
            pick = {"energy": 0, "confidence": max(range(len(rmsd)), key=lambda i: confidence[i]),
                    "vina": min(range(len(rmsd)), key=lambda i: vina[i])}
            rows.append({"seed": seed, "id": result["id"], **{f"top1_rmsd_{k}": rmsd[i] for k, i in pick.items()},
                         "best_rmsd": min(rmsd)})
            log.info("%s", rows[-1])
    write_rows(out / "per_run.csv", rows)
    summary = {k: sum(r[f"top1_rmsd_{k}"] < SUCCESS_A for r in rows) for k in ("energy", "confidence", "vina")}
    summary.update(best_of_10=sum(r["best_rmsd"] < SUCCESS_A for r in rows), runs=len(rows))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    log.info("%s", summary)


if __name__ == "__main__":
    log_to_console()
    main()
