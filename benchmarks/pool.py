"""`disco bench pool`: the figures of several `disco bench dock` runs (splits, seeds) counted together.

Why: one split and one seed move a docking figure by a few complexes, so decisions and the README quote
counts pooled over seeds and splits. Pooling reads each run's per-complex `results.csv` and counts, per
method, the (complex, run) pairs: a failed item counts as a miss, as in a single run's summary. Times are
compared as the median over the pairs both methods finished, and as the median of the per-pair ratio, so a
few very slow complexes do not decide the ratio.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from disco_core.errors import InputError
from disco_core.io import atomic_write_text

BASELINE = "vina"


def read_runs(runs: list[str | Path]) -> pd.DataFrame:
    """Every run's results.csv, one row per (run, method, complex), with the run's folder name."""
    frames = []
    for run in runs:
        path = Path(run) / "results.csv"
        if not path.is_file():
            raise InputError(str(run), "no results.csv (not a finished `disco bench dock` run)")
        table = pd.read_csv(path)
        table["run"] = Path(run).name
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _pb_valid(column: pd.Series) -> pd.Series:
    return column.astype(str).str.lower() == "true"


def pool_methods(table: pd.DataFrame) -> dict[str, dict]:
    """Per method: runs counted, top-1 / best-of-all < 2 A counts, PoseBusters-valid top-1 count, median
    seconds, and (beside the baseline) paired time ratios."""
    ok = table["status"] == "ok"
    table = table.assign(top1_ok=ok & (table["top1_rmsd"] < 2.0), best_ok=ok & (table["min_rmsd"] < 2.0),
                         valid=ok & _pb_valid(table["pb_valid"]))
    pooled = {}
    baseline = table[(table["method"] == BASELINE) & ok].set_index(["run", "id"])["seconds"]
    for method, rows in table.groupby("method", sort=False):
        n = len(rows)
        entry = {"n": n, "finished": int((rows["status"] == "ok").sum()),
                 "top1_lt2": int(rows["top1_ok"].sum()), "best_lt2": int(rows["best_ok"].sum()),
                 "pb_valid_top1": int(rows["valid"].sum()),
                 "top1_lt2_rate": round(float(rows["top1_ok"].mean()), 4),
                 "pb_valid_rate": round(float(rows["valid"].mean()), 4),
                 "median_seconds": round(float(rows.loc[rows["status"] == "ok", "seconds"].median()), 3)}
        if method != BASELINE and len(baseline):
            mine = rows[rows["status"] == "ok"].set_index(["run", "id"])["seconds"]
            both = mine.index.intersection(baseline.index)
            if len(both):
                entry["paired_n"] = int(len(both))
                entry["median_seconds_ratio_to_vina"] = round(
                    float(np.median(mine[both])) / float(np.median(baseline[both])), 4)
                entry["median_of_paired_ratios_to_vina"] = round(float(np.median(mine[both] / baseline[both])), 4)
        pooled[method] = entry
    return pooled


def markdown(pooled: dict[str, dict], runs: list[str]) -> str:
    lines = [f"Pooled over {len(runs)} runs: " + ", ".join(f"`{r}`" for r in runs) + ".", "",
             "| method | runs x complexes | top-1 < 2 A | best of all < 2 A | PoseBusters-valid top-1 | median s | "
             "median s / Vina's (paired) |", "|---|---|---|---|---|---|---|"]
    for method, e in pooled.items():
        ratio = e.get("median_seconds_ratio_to_vina")
        lines.append(f"| {method} | {e['n']} | {e['top1_lt2']} ({e['top1_lt2_rate']:.1%}) | {e['best_lt2']} | "
                     f"{e['pb_valid_top1']} ({e['pb_valid_rate']:.1%}) | {e['median_seconds']} | "
                     f"{'' if ratio is None else ratio} |")
    return "\n".join(lines) + "\n"


def pool_runs(runs: list[str | Path], out: str | Path) -> dict[str, dict]:
    """Pool the runs; writes OUT/pooled.json, OUT/pooled.md and OUT/results.csv (all rows, with `run`)."""
    table = read_runs(runs)
    pooled = pool_methods(table)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [Path(r).name for r in runs]
    atomic_write_text(out / "pooled.json", json.dumps({"runs": [str(r) for r in runs], "methods": pooled},
                                                      indent=2) + "\n")
    atomic_write_text(out / "pooled.md", markdown(pooled, names))
    atomic_write_text(out / "results.csv", table.to_csv(index=False))
    return pooled
