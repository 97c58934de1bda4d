"""Val + test table of the 30-step default against Vina, from committed records: test from this folder's runs
(DisCo, --fast and Vina in the same run), val from ../diffusion_steps_val/val_steps30_seed{0,1} (DisCo, the
rule's runs on the same code) and ../default_vs_vina/val_seed{0,1} (Vina, run 2026-12-02 with the same settings;
Vina's code and inputs have not changed since). The paired time ratio is the median over test runs of DisCo's
seconds over Vina's for the same complex and seed, Vina's stopped runs counted at their 300 s. Run from the
repository root:
    python benchmarks/results/default_s30_vs_vina/summary.py
Writes summary_val_test.json beside this file."""

import csv
import json
import logging
import statistics
from pathlib import Path

HERE = Path(__file__).parent
log = logging.getLogger("summary")
SEEDS = (0, 1)
TEST = [HERE / f"test_seed{s}" for s in SEEDS]
VAL = {"disco": [HERE.parent / "diffusion_steps_val" / f"val_steps30_seed{s}" for s in SEEDS],
       "vina": [HERE.parent / "default_vs_vina" / f"val_seed{s}" for s in SEEDS]}


def rows(folder: Path, method: str) -> list[dict]:
    with open(folder / "results.csv") as handle:
        return [r for r in csv.DictReader(handle) if r["method"] == method]


def hit(row: dict, column: str) -> bool:
    """A failed or stopped run (Vina past its timeout) is a miss."""
    return row["status"] == "ok" and bool(row[column]) and float(row[column]) < 2.0


def counts(got: list[dict]) -> dict:
    seconds = [float(r["seconds"]) for r in got if r["status"] == "ok" and r["seconds"]]
    return {"runs": len(got), "top1_lt2": sum(hit(r, "top1_rmsd") for r in got),
            "top5_lt2": sum(hit(r, "top5_min_rmsd") for r in got),
            "best_lt2": sum(hit(r, "min_rmsd") for r in got),
            "pb_valid_top1": sum(r.get("pb_valid") == "True" for r in got),
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None}


def paired_ratio(method: str) -> float:
    ratios = []
    for folder in TEST:
        vina = {r["id"]: r for r in rows(folder, "vina")}
        for r in rows(folder, method):
            other = vina.get(r["id"])
            if r["status"] == "ok" and other is not None and other["seconds"]:
                ratios.append(float(r["seconds"]) / float(other["seconds"]))
    return round(statistics.median(ratios), 3)


def main() -> None:
    table = {"test": {}, "val_test": {}}
    for method in ("disco", "disco/fast", "vina"):
        table["test"][method] = counts([r for folder in TEST for r in rows(folder, method)])
        if method != "vina":
            table["test"][method]["paired_seconds_ratio_to_vina"] = paired_ratio(method)
    for method, folders in VAL.items():
        got = [r for folder in folders + TEST for r in rows(folder, method)]
        table["val_test"][method] = counts(got)
        table["val_test"][method]["top1_lt2_share"] = round(table["val_test"][method]["top1_lt2"] / len(got), 4)
    (HERE / "summary_val_test.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
