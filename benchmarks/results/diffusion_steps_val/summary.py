"""The val table of RULE.md from the committed records: the default at 60, 30 and 20 reverse-diffusion steps
(val_steps{N}_seed{s}) beside the default's record on the code before cbf19bf (../random_starts_val/val_rs30_seed{s}),
with per-complex paired counts against 60 steps. Run from the repository root:
    python benchmarks/results/diffusion_steps_val/summary.py
Writes summary_val.json and per_complex_val.csv beside this file."""

import csv
import json
import logging
import statistics
from pathlib import Path

HERE = Path(__file__).parent
log = logging.getLogger("summary")
SOURCES = {"steps60": HERE / "val_steps60_seed{s}", "steps30": HERE / "val_steps30_seed{s}",
           "steps20": HERE / "val_steps20_seed{s}",
           "steps60_before_cbf19bf": HERE.parent / "random_starts_val" / "val_rs30_seed{s}"}
SEEDS = (0, 1)


def rows(folder: Path, seed: int) -> dict[str, dict]:
    with open(Path(str(folder).format(s=seed)) / "results.csv") as handle:
        return {r["id"]: r for r in csv.DictReader(handle) if r["method"] == "disco"}


def rmsd(row: dict | None, column: str) -> float:
    """A failed run is a miss."""
    return float(row[column]) if row and row.get("status") == "ok" and row[column] else float("inf")


def main() -> None:
    runs = {name: {s: rows(folder, s) for s in SEEDS} for name, folder in SOURCES.items()}
    ids = [(s, i) for s in SEEDS for i in runs["steps60"][s]]
    table, per_complex = {}, []
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
        return {"only_first_lt2": sum(r[f"{a}_top1"] < 2 <= r[f"{b}_top1"] for r in per_complex),
                "only_second_lt2": sum(r[f"{b}_top1"] < 2 <= r[f"{a}_top1"] for r in per_complex)}
    for name in ("steps30", "steps20", "steps60_before_cbf19bf"):
        table[f"paired_{name}_vs_steps60"] = paired(name, "steps60")
    (HERE / "summary_val.json").write_text(json.dumps(table, indent=2) + "\n")
    with open(HERE / "per_complex_val.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(per_complex[0]))
        writer.writeheader()
        writer.writerows(per_complex)
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
