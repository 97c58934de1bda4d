"""Pool the rankings' per_run_s*.csv (written by rerank_val20_rerank_saved_poses) into summary.json and log RULE.md's
decision.
    python -m benchmarks.studies.rerank_val20_summary --records benchmarks/results/rerank_val20
Writes summary.json to --out (default: the records folder)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from benchmarks.pool import SUCCESS_A
from benchmarks.studies import log_to_console, output_folder, study_parser

STUDY = "rerank_val20"
RANKINGS = ("E", "M", "V", "I")
log = logging.getLogger("summary")


def summary(records: Path) -> dict:
    rows = []
    for path in sorted(records.glob("per_run_s*.csv")):
        with open(path, newline="") as handle:
            rows += list(csv.DictReader(handle))
    seeds = sorted({row["seed"] for row in rows})

    def count(column: str, seed: str | None = None) -> int:
        return sum(float(row[column]) < SUCCESS_A for row in rows if seed is None or row["seed"] == seed)

    table = {"runs": len(rows), "runs_per_seed": {s: sum(r["seed"] == s for r in rows) for s in seeds},
             "top1_below_2A": {k: count(f"top1_rmsd_{k}") for k in RANKINGS},
             "top1_below_2A_per_seed": {k: {s: count(f"top1_rmsd_{k}", s) for s in seeds} for k in RANKINGS},
             "best_of_20_below_2A": {"E/I (poses as written)": count("best_rmsd"), "M": count("best_rmsd_M"),
                                     "V": count("best_rmsd_V")}}
    base = table["top1_below_2A"]["E"]
    table["rule_met"] = {k: table["top1_below_2A"][k] >= base + 5 and all(
        table["top1_below_2A_per_seed"][k][s] >= table["top1_below_2A_per_seed"]["E"][s] for s in seeds)
        for k in RANKINGS if k != "E"}
    return table


def main(argv: list[str] | None = None) -> None:
    args = study_parser(__doc__, STUDY).parse_args(argv)
    table = summary(args.records)
    (output_folder(args, STUDY) / "summary.json").write_text(json.dumps(table, indent=1) + "\n")
    log.info("%s", json.dumps(table, indent=1))


if __name__ == "__main__":
    log_to_console()
    main()
