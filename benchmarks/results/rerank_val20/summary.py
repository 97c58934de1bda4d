"""Pool per_run_s*.csv into summary.json and print RULE.md's decision (run from the repository root)."""

import csv
import json
import logging
from pathlib import Path

HERE = Path(__file__).parent
RANKINGS = ("E", "M", "V", "I")
rows = [row for path in sorted(HERE.glob("per_run_s*.csv")) for row in csv.DictReader(path.open())]
seeds = sorted({row["seed"] for row in rows})


def count(column: str, seed: str | None = None) -> int:
    return sum(float(row[column]) < 2.0 for row in rows if seed is None or row["seed"] == seed)


summary = {"runs": len(rows), "runs_per_seed": {s: sum(r["seed"] == s for r in rows) for s in seeds},
           "top1_below_2A": {k: count(f"top1_rmsd_{k}") for k in RANKINGS},
           "top1_below_2A_per_seed": {k: {s: count(f"top1_rmsd_{k}", s) for s in seeds} for k in RANKINGS},
           "best_of_20_below_2A": {"E/I (poses as written)": count("best_rmsd"), "M": count("best_rmsd_M"),
                                   "V": count("best_rmsd_V")}}
base = summary["top1_below_2A"]["E"]
summary["rule_met"] = {k: summary["top1_below_2A"][k] >= base + 5 and all(
    summary["top1_below_2A_per_seed"][k][s] >= summary["top1_below_2A_per_seed"]["E"][s] for s in seeds)
    for k in RANKINGS if k != "E"}
(HERE / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
logging.basicConfig(level=logging.INFO, format="%(message)s")
logging.getLogger(Path(__file__).stem).info("%s", json.dumps(summary, indent=1))
