"""PLAN.md's table: the default (../default_vs_vina/val_seed*) against disco/null-latent (runs/null_latent_val_s*),
per seed and pooled, with a paired count per complex. Run from the repository root; writes per_complex.csv and
summary.json beside this file."""

import csv
import json
import logging
from pathlib import Path

HERE = Path(__file__).parent
SOURCES = {"disco": "benchmarks/results/default_vs_vina/val_seed{seed}/results.csv",
           "disco/null-latent": "runs/null_latent_val_s{seed}/results.csv"}
TIE_A = 0.1


def records(method: str, seed: int) -> dict[str, dict]:
    path = Path(SOURCES[method].format(seed=seed))
    return {row["id"]: row for row in csv.DictReader(path.open()) if row["method"] == method and row["status"] == "ok"}


rows = []
for seed in (0, 1):
    latent, null = records("disco", seed), records("disco/null-latent", seed)
    for name in sorted(set(latent) & set(null)):
        a, b = float(latent[name]["top1_rmsd"]), float(null[name]["top1_rmsd"])
        rows.append({"seed": seed, "id": name, "top1_rmsd_disco": a, "top1_rmsd_null": b,
                     "top5_rmsd_disco": float(latent[name]["top5_min_rmsd"]),
                     "top5_rmsd_null": float(null[name]["top5_min_rmsd"]),
                     "best_rmsd_disco": float(latent[name]["min_rmsd"]), "best_rmsd_null": float(null[name]["min_rmsd"]),
                     "winner": "tie" if abs(a - b) <= TIE_A else ("disco" if a < b else "null-latent")})
with open(HERE / "per_complex.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def count(column: str, seed: int | None = None) -> int:
    return sum(r[column] < 2.0 for r in rows if seed is None or r["seed"] == seed)


summary = {"runs": len(rows)}
for label, suffix in (("disco", "disco"), ("null_latent", "null")):
    summary[label] = {kind: {"pooled": count(f"{kind}_rmsd_{suffix}"), **{f"seed{s}": count(f"{kind}_rmsd_{suffix}", s)
                                                                          for s in (0, 1)}}
                      for kind in ("top1", "top5", "best")}
summary["paired_top1"] = {w: sum(r["winner"] == w for r in rows) for w in ("disco", "null-latent", "tie")}
summary["paired_top1_below_2A_only_one"] = {
    "disco": sum(r["top1_rmsd_disco"] < 2 <= r["top1_rmsd_null"] for r in rows),
    "null-latent": sum(r["top1_rmsd_null"] < 2 <= r["top1_rmsd_disco"] for r in rows)}
(HERE / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
logging.basicConfig(level=logging.INFO, format="%(message)s")
logging.getLogger(Path(__file__).stem).info("%s", json.dumps(summary, indent=1))
