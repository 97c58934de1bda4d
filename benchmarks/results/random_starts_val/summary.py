"""RESULT.md's val table from the committed records: the random-start runs (val_rs{30,80}_seed{0,1}) beside the
old default's and Vina's records (../default_vs_vina/val_seed{0,1}) and grid+pairwise R = 0's
(../grid_pairwise_val/val_seed{0,1}), with per-complex paired counts. Run from the repository root:
    python benchmarks/results/random_starts_val/summary.py
Writes summary_val.json and per_complex_val.csv beside this file."""

import csv
import json
import logging
import statistics
from pathlib import Path

HERE = Path(__file__).parent
log = logging.getLogger("summary")
SOURCES = {"R30": (HERE / "val_rs30_seed{s}", "disco"), "R80": (HERE / "val_rs80_seed{s}", "disco"),
           "default_old": (HERE.parent / "default_vs_vina" / "val_seed{s}", "disco"),
           "grid_pairwise_R0": (HERE.parent / "grid_pairwise_val" / "val_seed{s}", "disco"),
           "vina": (HERE.parent / "default_vs_vina" / "val_seed{s}", "vina")}


def rows(folder: str, method: str, seed: int) -> dict[str, dict]:
    with open(Path(folder.format(s=seed)) / "results.csv") as handle:
        return {r["id"]: r for r in csv.DictReader(handle) if r["method"] == method}


def rmsd(row: dict | None, column: str) -> float:
    """A failed or stopped run (Vina past its timeout) is a miss."""
    return float(row[column]) if row and row.get("status") == "ok" and row[column] else float("inf")


def main() -> None:
    table, per_complex = {}, []
    runs = {name: {s: rows(str(folder), method, s) for s in (0, 1)} for name, (folder, method) in SOURCES.items()}
    ids = [(s, i) for s in (0, 1) for i in runs["R30"][s]]
    for name, by_seed in runs.items():
        got = [by_seed[s].get(i) for s, i in ids]
        seconds = [float(r["seconds"]) for r in got if r and r.get("status") == "ok" and r["seconds"]]
        table[name] = {"runs": len(ids), "top1_lt2": sum(rmsd(r, "top1_rmsd") < 2 for r in got),
                       "top5_lt2": sum(rmsd(r, "top5_min_rmsd") < 2 for r in got),
                       "best_lt2": sum(rmsd(r, "min_rmsd") < 2 for r in got),
                       "pb_valid_top1": sum(bool(r) and r.get("pb_valid") == "True" for r in got),
                       "median_seconds": round(statistics.median(seconds), 1) if seconds else None}
    for s, i in ids:
        per_complex.append({"seed": s, "id": i, **{f"{name}_top1": rmsd(runs[name][s].get(i), "top1_rmsd")
                                                     for name in runs}})
    def paired(a: str, b: str) -> dict:
        wins = sum(r[f"{a}_top1"] < 2 <= r[f"{b}_top1"] for r in per_complex)
        losses = sum(r[f"{b}_top1"] < 2 <= r[f"{a}_top1"] for r in per_complex)
        return {"only_first_lt2": wins, "only_second_lt2": losses}
    table["paired_R30_vs_default_old"] = paired("R30", "default_old")
    table["paired_R30_vs_vina"] = paired("R30", "vina")
    (HERE / "summary_val.json").write_text(json.dumps(table, indent=2) + "\n")
    with open(HERE / "per_complex_val.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(per_complex[0]))
        writer.writeheader()
        writer.writerows(per_complex)
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
