"""PLAN.md's and PLAN_test.md's tables: the default (../default_vs_vina/<split>_seed*) against disco/null-latent
(this folder's <split>_seed*, copied from runs/null_latent_<split>_s*), per seed and pooled, with a paired count per
complex. Run from the repository root:
    python benchmarks/results/null_latent_val/paired.py [val|test|val+test]   (default: val)
Writes per_complex.csv and summary.json (val), per_complex_test.csv and summary_test.json (test) or
per_complex_val_test.csv and summary_val_test.json (both) beside this file."""

import csv
import json
import logging
import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCES = {"disco": "benchmarks/results/default_vs_vina/{split}_seed{seed}/results.csv",
           "disco/null-latent": "benchmarks/results/null_latent_val/{split}_seed{seed}/results.csv"}
SUFFIX = {"val": "", "test": "_test", "val+test": "_val_test"}
TIE_A = 0.1


def records(method: str, split: str, seed: int) -> dict[str, dict]:
    path = Path(SOURCES[method].format(split=split, seed=seed))
    return {row["id"]: row for row in csv.DictReader(path.open()) if row["method"] == method and row["status"] == "ok"}


def paired_rows(split: str) -> list[dict]:
    """One row per complex and seed that both methods docked (the null-latent runs match the default's complexes)."""
    rows = []
    for seed in (0, 1):
        latent, null = records("disco", split, seed), records("disco/null-latent", split, seed)
        for name in sorted(set(latent) & set(null)):
            a, b = float(latent[name]["top1_rmsd"]), float(null[name]["top1_rmsd"])
            rows.append({"split": split, "seed": seed, "id": name, "top1_rmsd_disco": a, "top1_rmsd_null": b,
                         "top5_rmsd_disco": float(latent[name]["top5_min_rmsd"]),
                         "top5_rmsd_null": float(null[name]["top5_min_rmsd"]),
                         "best_rmsd_disco": float(latent[name]["min_rmsd"]),
                         "best_rmsd_null": float(null[name]["min_rmsd"]),
                         "winner": "tie" if abs(a - b) <= TIE_A else ("disco" if a < b else "null-latent")})
    return rows


def summarise(rows: list[dict]) -> dict:
    def count(column: str, seed: int | None = None) -> int:
        return sum(r[column] < 2.0 for r in rows if seed is None or r["seed"] == seed)

    summary = {"runs": len(rows)}
    for label, suffix in (("disco", "disco"), ("null_latent", "null")):
        summary[label] = {kind: {"pooled": count(f"{kind}_rmsd_{suffix}"),
                                 **{f"seed{s}": count(f"{kind}_rmsd_{suffix}", s) for s in (0, 1)}}
                          for kind in ("top1", "top5", "best")}
    summary["paired_top1"] = {w: sum(r["winner"] == w for r in rows) for w in ("disco", "null-latent", "tie")}
    summary["paired_top1_below_2A_only_one"] = {
        "disco": sum(r["top1_rmsd_disco"] < 2 <= r["top1_rmsd_null"] for r in rows),
        "null-latent": sum(r["top1_rmsd_null"] < 2 <= r["top1_rmsd_disco"] for r in rows)}
    return summary


def main(which: str) -> None:
    rows = [row for split in which.split("+") for row in paired_rows(split)]
    if which == "val":   # the val records predate the split column; keep their layout
        rows = [{key: value for key, value in row.items() if key != "split"} for row in rows]
    with open(HERE / f"per_complex{SUFFIX[which]}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    (HERE / f"summary{SUFFIX[which]}.json").write_text(json.dumps(summary, indent=1) + "\n")
    logging.getLogger(Path(__file__).stem).info("%s", json.dumps(summary, indent=1))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv[1] if len(sys.argv) > 1 else "val")
