"""Val + test table of the new default (grid+pairwise, 30 random starts) against Vina, from committed records:
test from this folder's runs (DisCo and Vina in the same run), val from ../random_starts_val/val_rs30_seed{0,1}
(DisCo) and ../default_vs_vina/val_seed{0,1} (Vina, run 2026-12-02 with the same settings; Vina's code and
inputs have not changed since). Run from the repository root:
    python benchmarks/results/default_vs_vina_r30/summary.py
Writes summary_val_test.json beside this file."""

import csv
import json
import logging
import statistics
from pathlib import Path

HERE = Path(__file__).parent
log = logging.getLogger("summary")
RUNS = {"disco": [HERE.parent / "random_starts_val" / f"val_rs30_seed{s}" for s in (0, 1)]
        + [HERE / f"test_seed{s}" for s in (0, 1)],
        "vina": [HERE.parent / "default_vs_vina" / f"val_seed{s}" for s in (0, 1)]
        + [HERE / f"test_seed{s}" for s in (0, 1)]}


def rows(folder: Path, method: str) -> list[dict]:
    with open(folder / "results.csv") as handle:
        return [r for r in csv.DictReader(handle) if r["method"] == method]


def hit(row: dict, column: str) -> bool:
    """A failed or stopped run (Vina past its timeout) is a miss."""
    return row["status"] == "ok" and bool(row[column]) and float(row[column]) < 2.0


def main() -> None:
    table = {}
    for method, folders in RUNS.items():
        got = [r for folder in folders for r in rows(folder, method)]
        seconds = [float(r["seconds"]) for r in got if r["status"] == "ok" and r["seconds"]]
        table[method] = {"runs": len(got), "top1_lt2": sum(hit(r, "top1_rmsd") for r in got),
                         "top5_lt2": sum(hit(r, "top5_min_rmsd") for r in got),
                         "best_lt2": sum(hit(r, "min_rmsd") for r in got),
                         "pb_valid_top1": sum(r.get("pb_valid") == "True" for r in got),
                         "median_seconds": round(statistics.median(seconds), 1)}
        table[method]["top1_lt2_share"] = round(table[method]["top1_lt2"] / len(got), 4)
    (HERE / "summary_val_test.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
