"""RULE.md's two orders of the same ten poses per run: E (the run's own, by the minimised interaction energy) and
I (by the intermolecular energy alone), with PoseBusters' `dock` checks on I's top-1 pose.

Run from the repository root after the runs exist:
    OMP_NUM_THREADS=1 python benchmarks/results/intermolecular_rank_val/rank_saved_poses.py RUN [RUN ...]
Writes per_run_<split>.csv and summary_<split>.json beside this file (<split>: --name, default "val").
"""

import argparse
import csv
import json
import logging
from pathlib import Path

from rdkit import Chem

from docking.physics.posebusters_checks import check_poses

DATA = Path("../shared/data/complexes")
HERE = Path(__file__).parent
logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("rank_saved_poses")


def intermolecular_order(record: dict) -> list[int]:
    """Ranks (0-based, the run's order) sorted by ascending intermolecular energy; ties keep the run's order."""
    inter = record["extras"]["intermolecular_energy"]
    return sorted(range(len(inter)), key=lambda k: (float("inf") if inter[k] is None else inter[k], k))


def pb_valid(sdf: Path, rank: int, protein: Path) -> bool:
    pose = [m for m in Chem.SDMolSupplier(str(sdf), removeHs=False)][rank]
    return bool(check_poses([pose], protein, config="dock").iloc[0]["pb_valid"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--name", default="val")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        seed = json.loads((run / "config.json").read_text())["settings"]["seed"]
        for path in sorted((run / "disco").glob("*.json")):
            record = json.loads(path.read_text())
            if record.get("status") != "ok":
                rows.append({"run": run.name, "seed": seed, "id": record["id"], "status": "failed"})
                continue
            rmsd = record["rmsd"]
            first = intermolecular_order(record)[0]
            valid_i = record["pb_valid"] if first == 0 else pb_valid(path.with_suffix(".sdf"), first,
                                                                     DATA / record["id"] / f"{record['id']}_protein.pdb")
            rows.append({"run": run.name, "seed": seed, "id": record["id"], "status": "ok",
                         "E_top1_rmsd": rmsd[0], "I_top1_rmsd": rmsd[first], "I_top1_rank_in_E": first + 1,
                         "best_rmsd": min(rmsd), "E_pb_valid": record["pb_valid"], "I_pb_valid": valid_i,
                         "E_top1_inter": record["extras"]["intermolecular_energy"][0],
                         "I_top1_inter": record["extras"]["intermolecular_energy"][first],
                         "E_top1_energy": record["scores"][0], "I_top1_energy": record["scores"][first]})
            log.info("%s seed %s: E %.2f A, I %.2f A", record["id"], seed, rmsd[0], rmsd[first])
    with open(HERE / f"per_run_{args.name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(max(rows, key=len)))
        writer.writeheader()
        writer.writerows(rows)
    ok = [r for r in rows if r["status"] == "ok"]
    summary = {"runs": len(rows), "ok": len(ok)}
    for seed in sorted({r["seed"] for r in rows}):
        for key in ("E", "I"):
            summary[f"{key}_top1_lt2_seed{seed}"] = sum(r[f"{key}_top1_rmsd"] < 2 for r in ok if r["seed"] == seed)
    for key in ("E", "I"):
        summary[f"{key}_top1_lt2"] = sum(r[f"{key}_top1_rmsd"] < 2 for r in ok)
        summary[f"{key}_pb_valid_top1"] = sum(bool(r[f"{key}_pb_valid"]) for r in ok)
    summary["best_of_10_lt2"] = sum(r["best_rmsd"] < 2 for r in ok)
    summary["paired_I_only"] = sum(r["I_top1_rmsd"] < 2 <= r["E_top1_rmsd"] for r in ok)
    summary["paired_E_only"] = sum(r["E_top1_rmsd"] < 2 <= r["I_top1_rmsd"] for r in ok)
    (HERE / f"summary_{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
