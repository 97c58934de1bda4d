"""benchmarks/results/site_finder_settings (RULE.md): which cavity thresholds and site centre put one of blind
docking's docked sites on the ligand most often?

    OMP_NUM_THREADS=1 python -m benchmarks.studies.site_finder_settings run --stage thresholds   # training only
    OMP_NUM_THREADS=1 python -m benchmarks.studies.site_finder_settings run --stage centres      # training only
    python -m benchmarks.studies.site_finder_settings choose                                     # the candidate
    OMP_NUM_THREADS=1 python -m benchmarks.studies.site_finder_settings val                      # decision, test

`per_complex.csv` (one row per complex and setting: set, sites, first hit among the docked sites, DCC of site 1,
seconds) is a cache: a (complex, setting) pair already in it is not rerun; it is rewritten (atomically) after
every complex.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from dataclasses import asdict, replace
from itertools import product
from pathlib import Path

import numpy as np

from benchmarks.pocket_bench import DCC_CUTOFF_A, ligand_centroids, site_dccs
from benchmarks.studies import DATASET, RESULTS, log_to_console
from data_prep.inputs import pdbbind_jobs
from data_prep.protein import read_heavy_atoms
from disco_core.errors import InputError
from disco_core.io import atomic_open
from docking.inference.site_search import CENTERS, PocketFinderSettings, separated_pockets

STUDY = "site_finder_settings"
log = logging.getLogger(STUDY)
DOCKED = 4                                   # blind docking's default --blind-sites
TODAY = PocketFinderSettings()
FIELDS = ["id", "set", "setting", "sites", "first_hit", "dcc_site1", "seconds"]


def setting_name(s: PocketFinderSettings) -> str:
    return f"clearance{s.clearance}_buried{s.min_buried}_core{s.core_radius}_{s.center}"


def threshold_grid() -> list[PocketFinderSettings]:
    return [replace(TODAY, clearance=c, min_buried=b, core_radius=r)
            for c, b, r in product((3.0, 2.5), (13, 12), (4.0, 6.0, 8.0))]


def sets(dataset: Path) -> dict[str, tuple[Path, Path]]:
    root = dataset.parent
    return {"train": (dataset, root / "splits" / "train.txt"),
            "extra": (root / "extra" / "complexes", root / "extra" / "splits" / "train_extra.txt"),
            "val": (dataset, root / "splits" / "val.txt"), "test": (dataset, root / "splits" / "test.txt")}


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows_atomic(path: Path, rows: list[dict]) -> None:
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def measure(args: argparse.Namespace, settings: list[PocketFinderSettings], set_names: tuple[str, ...]) -> None:
    path = args.out / "per_complex.csv"
    rows = read_rows(path)
    done = {(r["id"], r["setting"]) for r in rows}
    for set_name in set_names:
        dataset, split = sets(args.dataset)[set_name]
        for job in pdbbind_jobs(dataset, split):
            todo = [s for s in settings if (job.name, setting_name(s)) not in done]
            if not todo:
                continue
            try:
                pos = read_heavy_atoms(job.protein_path).pos
                centroids = ligand_centroids(job.ligand, job.name)
            except InputError as exc:
                log.warning("%s: skipped (%s)", job.name, exc.reason)
                continue
            for s in todo:
                start = time.perf_counter()
                sites = separated_pockets(pos, DOCKED, s)
                seconds = time.perf_counter() - start
                dcc = site_dccs([p.center for p in sites], centroids)
                hit = next((k + 1 for k, d in enumerate(dcc) if d < DCC_CUTOFF_A), "")
                rows.append({"id": job.name, "set": set_name, "setting": setting_name(s), "sites": len(sites),
                             "first_hit": hit, "dcc_site1": round(dcc[0], 3) if dcc else "",
                             "seconds": round(seconds, 3)})
            write_rows_atomic(path, rows)
            log.info("%s (%s): %d settings", job.name, set_name, len(todo))


def table(rows: list[dict], set_names: tuple[str, ...], totals: dict[str, int]) -> dict[str, dict]:
    """Per setting: recall@1, recall@4 (a complex without a row or without sites a miss), median seconds."""
    total = sum(totals[name] for name in set_names)
    out: dict[str, dict] = {}
    for row in rows:
        if row["set"] in set_names:
            out.setdefault(row["setting"], []).append(row)
    return {name: {"complexes": total, "measured": len(rs), "hits@1": sum(r["first_hit"] == "1" for r in rs),
                   f"hits@{DOCKED}": sum(r["first_hit"] != "" for r in rs),
                   "recall@1": round(sum(r["first_hit"] == "1" for r in rs) / total, 4),
                   f"recall@{DOCKED}": round(sum(r["first_hit"] != "" for r in rs) / total, 4),
                   "median_seconds": round(float(np.median([float(r["seconds"]) for r in rs])), 3)}
            for name, rs in sorted(out.items())}


def totals(args: argparse.Namespace) -> dict[str, int]:
    return {name: len(pdbbind_jobs(d, s)) for name, (d, s) in sets(args.dataset).items()}


def run(args: argparse.Namespace) -> None:
    if args.stage == "thresholds":
        measure(args, threshold_grid(), ("train", "extra"))
        return
    training = table(read_rows(args.out / "per_complex.csv"), ("train", "extra"), totals(args))
    grid = {setting_name(s): s for s in threshold_grid()}
    best = grid[max(grid, key=lambda n: (training[n][f"recall@{DOCKED}"], training[n]["recall@1"]))]
    measure(args, [replace(b, center=c) for b in {setting_name(best): best, setting_name(TODAY): TODAY}.values()
                   for c in CENTERS], ("train", "extra"))


def choose(args: argparse.Namespace) -> dict:
    training = table(read_rows(args.out / "per_complex.csv"), ("train", "extra"), totals(args))
    today = setting_name(TODAY)
    candidate = max(training, key=lambda n: (training[n][f"recall@{DOCKED}"], training[n]["recall@1"],
                                             -training[n]["median_seconds"], n == today))
    result = {"training": training, "today": today, "candidate": candidate}
    (args.out / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", json.dumps(result, indent=2))
    return result


def val(args: argparse.Namespace) -> None:
    chosen = json.loads((args.out / "training.json").read_text())
    names = {chosen["today"], chosen["candidate"]}
    lookup = {setting_name(s): s for s in threshold_grid()}
    lookup.update({setting_name(replace(s, center=c)): replace(s, center=c) for s in lookup.copy().values()
                   for c in CENTERS})
    measure(args, [lookup[n] for n in names], ("val", "test"))
    rows = read_rows(args.out / "per_complex.csv")
    sizes = totals(args)
    v = {n: figures for n, figures in table(rows, ("val",), sizes).items() if n in names}
    t = {n: figures for n, figures in table(rows, ("test",), sizes).items() if n in names}
    today, candidate = v[chosen["today"]], v[chosen["candidate"]]
    ships = bool(chosen["candidate"] != chosen["today"]
                 and candidate[f"hits@{DOCKED}"] >= today[f"hits@{DOCKED}"] + 2
                 and candidate["hits@1"] >= today["hits@1"]
                 and candidate["median_seconds"] <= 3 * today["median_seconds"])
    result = {"val": v, "ships": ships, "test (after the decision)": t,
              "candidate_settings": asdict(lookup[chosen["candidate"]])}
    (args.out / "decision.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", json.dumps(result, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("run", "choose", "val"))
    parser.add_argument("--stage", choices=("thresholds", "centres"), default="thresholds")
    parser.add_argument("--out", type=Path, default=RESULTS / STUDY)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)
    log_to_console()
    args.out.mkdir(parents=True, exist_ok=True)
    {"run": run, "choose": choose, "val": val}[args.step](args)


if __name__ == "__main__":
    main()
