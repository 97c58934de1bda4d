"""`disco bench pool`: the figures of several `disco bench dock` runs (splits, seeds) counted together.

Why: one split and one seed move a docking figure by a few complexes, so decisions and the README quote
counts pooled over seeds and splits. Pooling reads each run's per-complex `results.csv` and counts, per
method, the (complex, run) pairs: a failed item counts as a miss, as in a single run's summary. Times are
compared as the median over the pairs both methods finished, and as the median of the per-pair ratio, so a
few very slow complexes do not decide the ratio.

`--paired FIRST SECOND` also compares two methods complex by complex on the (run, complex) pairs both have a row
for: which top-1 RMSD is lower (a tie within 0.1 A), and how often only one of them is within 2 A. The studies in
benchmarks/studies count with the same functions (`method_rows`, `rmsd`, `counts`, `paired`).
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
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


# ------------------------------------------------------------------------------ per-complex, per study
# The studies under benchmarks/studies read results.csv rows as written (strings) and count them here, so every
# study counts a miss, a hit and a paired win the same way.

SUCCESS_A = 2.0      # a pose within this RMSD of the crystal pose is right
TIE_A = 0.1          # two top-1 RMSDs closer than this are a tie


def method_rows(run: str | Path, method: str) -> dict[str, dict]:
    """One run's results.csv rows of `method`, by complex id, as written (strings)."""
    path = Path(run) / "results.csv"
    if not path.is_file():
        raise InputError(str(run), "no results.csv (not a finished `disco bench dock` run)")
    with open(path, newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle) if row["method"] == method}


def rmsd(row: Mapping | None, column: str = "top1_rmsd") -> float:
    """The row's RMSD in `column`; inf (a miss) for a missing row, a failed or stopped run, or an empty cell."""
    if not row or row.get("status") != "ok" or row.get(column) in (None, ""):
        return math.inf
    return float(row[column])


def counts(rows: Sequence[Mapping | None]) -> dict:
    """Per-complex rows of one method (None: the complex has no row, a miss): runs, top-1 / best-of-5 /
    best-of-all < 2 A counts, PoseBusters-valid top-1 count and the median seconds of the finished rows."""
    seconds = [float(r["seconds"]) for r in rows if r and r.get("status") == "ok" and r.get("seconds")]
    return {"runs": len(rows), "top1_lt2": sum(rmsd(r, "top1_rmsd") < SUCCESS_A for r in rows),
            "top5_lt2": sum(rmsd(r, "top5_min_rmsd") < SUCCESS_A for r in rows),
            "best_lt2": sum(rmsd(r, "min_rmsd") < SUCCESS_A for r in rows),
            "pb_valid_top1": sum(bool(r) and r.get("pb_valid") == "True" for r in rows),
            "median_seconds": round(statistics.median(seconds), 1) if seconds else None}


def folder_counts(folders: Sequence[str | Path], method: str) -> dict:
    """`counts` of one method over the finished rows of several run folders (seeds, splits), with the top-1 share."""
    rows = [row for folder in folders for row in method_rows(folder, method).values()]
    table = counts(rows)
    table["top1_lt2_share"] = round(table["top1_lt2"] / len(rows), 4)
    return table


def winner(first: float, second: float, tolerance: float = TIE_A) -> str:
    """"first" or "second" (the lower top-1 RMSD), or "tie" within `tolerance` A (two misses are a tie)."""
    if first == second or abs(first - second) <= tolerance:
        return "tie"
    return "first" if first < second else "second"


def paired(first: Mapping[Hashable, float], second: Mapping[Hashable, float], tolerance: float = TIE_A,
           threshold: float = SUCCESS_A) -> dict[str, int]:
    """Paired comparison of two methods (or runs) over the keys both hold (complex, or (run, complex)), each value
    a top-1 RMSD (inf for a miss): how often each is lower, the ties within `tolerance`, and how often only one is
    within `threshold` A."""
    keys = [key for key in first if key in second]
    verdicts = [winner(first[k], second[k], tolerance) for k in keys]
    return {"n": len(keys), "first_lower": verdicts.count("first"), "second_lower": verdicts.count("second"),
            "tie": verdicts.count("tie"),
            "only_first_lt2": sum(first[k] < threshold <= second[k] for k in keys),
            "only_second_lt2": sum(second[k] < threshold <= first[k] for k in keys)}


def paired_methods(table: pd.DataFrame, first: str, second: str,
                   tolerance: float = TIE_A) -> tuple[dict, pd.DataFrame]:
    """`paired` over the (run, complex) pairs both methods have a row for (a failed row is a miss), and the
    per-pair table (run, id, both top-1 RMSDs, winner)."""
    top1 = {}
    for method in (first, second):
        rows = table[table["method"] == method]
        if rows.empty:
            raise InputError(method, "no rows of this method in the pooled runs")
        values = rows["top1_rmsd"].where(rows["status"] == "ok").astype(float).fillna(math.inf)
        top1[method] = dict(zip(zip(rows["run"], rows["id"]), values))
    result = paired(top1[first], top1[second], tolerance)
    keys = [key for key in top1[first] if key in top1[second]]
    per_pair = pd.DataFrame({"run": [k[0] for k in keys], "id": [k[1] for k in keys],
                             f"top1_rmsd_{first}": [top1[first][k] for k in keys],
                             f"top1_rmsd_{second}": [top1[second][k] for k in keys],
                             "winner": [{"first": first, "second": second, "tie": "tie"}[
                                 winner(top1[first][k], top1[second][k], tolerance)] for k in keys]})
    return {"first": first, "second": second, "tie_a": tolerance, **result}, per_pair


def paired_markdown(result: dict) -> str:
    first, second = result["first"], result["second"]
    return (f"Paired top-1, {first} vs {second}, over {result['n']} (run, complex) pairs (a failure is a miss): "
            f"{first} lower {result['first_lower']}, {second} lower {result['second_lower']}, tie (within "
            f"{result['tie_a']} A) {result['tie']}; only {first} < 2 A {result['only_first_lt2']}, only {second} "
            f"< 2 A {result['only_second_lt2']}.\n")


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


def pool_runs(runs: list[str | Path], out: str | Path, paired_with: tuple[str, str] | None = None,
              tie: float = TIE_A) -> dict[str, dict]:
    """Pool the runs; writes OUT/pooled.json, OUT/pooled.md and OUT/results.csv (all rows, with `run`). With
    `paired_with` (FIRST, SECOND) also OUT/paired.json (`paired_methods`' counts, also under "paired" in
    pooled.json), OUT/paired.csv (one row per (run, complex)) and the counts in a line of pooled.md."""
    table = read_runs(runs)
    pooled = pool_methods(table)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [Path(r).name for r in runs]
    record = {"runs": [str(r) for r in runs], "methods": pooled}
    text = markdown(pooled, names)
    if paired_with is not None:
        result, per_pair = paired_methods(table, *paired_with, tolerance=tie)
        record["paired"] = result
        text += "\n" + paired_markdown(result)
        atomic_write_text(out / "paired.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(out / "paired.csv", per_pair.to_csv(index=False))
    atomic_write_text(out / "pooled.json", json.dumps(record, indent=2) + "\n")
    atomic_write_text(out / "pooled.md", text)
    atomic_write_text(out / "results.csv", table.to_csv(index=False))
    return pooled
