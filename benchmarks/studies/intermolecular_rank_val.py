"""RULE.md's two orders of the same ten poses per run: E (the run's own, by the minimised interaction energy) and
I (by the intermolecular energy alone), with PoseBusters' `dock` checks on I's top-1 pose.

After the runs exist:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.intermolecular_rank_val runs/val_inter_s0 runs/val_inter_s1
Writes per_run_<name>.csv and summary_<name>.json (--name, default "val") to --out (default
benchmarks/results/intermolecular_rank_val).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from rdkit import Chem

from benchmarks.pool import SUCCESS_A, paired
from benchmarks.studies import log_to_console, output_folder, study_parser, write_rows
from docking.physics.posebusters_checks import check_poses

STUDY = "intermolecular_rank_val"
log = logging.getLogger("rank_saved_poses")


def intermolecular_order(record: dict) -> list[int]:
    """Ranks (0-based, the run's order) sorted by ascending intermolecular energy; ties keep the run's order."""
    inter = record["extras"]["intermolecular_energy"]
    return sorted(range(len(inter)), key=lambda k: (float("inf") if inter[k] is None else inter[k], k))


def pb_valid(sdf: Path, rank: int, protein: Path) -> bool:
    pose = [m for m in Chem.SDMolSupplier(str(sdf), removeHs=False)][rank]
    return bool(check_poses([pose], protein, config="dock").iloc[0]["pb_valid"])


def summarise(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]
    summary = {"runs": len(rows), "ok": len(ok)}
    for seed in sorted({r["seed"] for r in rows}):
        for key in ("E", "I"):
            summary[f"{key}_top1_lt2_seed{seed}"] = sum(r[f"{key}_top1_rmsd"] < SUCCESS_A for r in ok
                                                        if r["seed"] == seed)
    for key in ("E", "I"):
        summary[f"{key}_top1_lt2"] = sum(r[f"{key}_top1_rmsd"] < SUCCESS_A for r in ok)
        summary[f"{key}_pb_valid_top1"] = sum(bool(r[f"{key}_pb_valid"]) for r in ok)
    summary["best_of_10_lt2"] = sum(r["best_rmsd"] < SUCCESS_A for r in ok)
    counted = paired({k: r["I_top1_rmsd"] for k, r in enumerate(ok)}, {k: r["E_top1_rmsd"] for k, r in enumerate(ok)})
    summary["paired_I_only"] = counted["only_first_lt2"]
    summary["paired_E_only"] = counted["only_second_lt2"]
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False, dataset=True)
    parser.add_argument("runs", nargs="+", type=Path, help="`disco bench dock` run folders")
    parser.add_argument("--name", default="val", help="the outputs' suffix (default val)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
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
            protein = args.dataset / record["id"] / f"{record['id']}_protein.pdb"
            valid_i = record["pb_valid"] if first == 0 else pb_valid(path.with_suffix(".sdf"), first, protein)
            rows.append({"run": run.name, "seed": seed, "id": record["id"], "status": "ok",
                         "E_top1_rmsd": rmsd[0], "I_top1_rmsd": rmsd[first], "I_top1_rank_in_E": first + 1,
                         "best_rmsd": min(rmsd), "E_pb_valid": record["pb_valid"], "I_pb_valid": valid_i,
                         "E_top1_inter": record["extras"]["intermolecular_energy"][0],
                         "I_top1_inter": record["extras"]["intermolecular_energy"][first],
                         "E_top1_energy": record["scores"][0], "I_top1_energy": record["scores"][first]})
            log.info("%s seed %s: E %.2f A, I %.2f A", record["id"], seed, rmsd[0], rmsd[first])
    write_rows(out / f"per_run_{args.name}.csv", rows, fieldnames=list(max(rows, key=len)))
    summary = summarise(rows)
    (out / f"summary_{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("%s", json.dumps(summary, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
