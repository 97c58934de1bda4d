"""benchmarks/results/site_ranker (RULE.md): does a linear ranker of candidate sites put the ligand's site first
more often than the finder's own order?

    OMP_NUM_THREADS=1 python -m benchmarks.studies.site_ranker features     # every complex's first 20 sites
    python -m benchmarks.studies.site_ranker cv                               # five folds, training complexes
    python -m benchmarks.studies.site_ranker val                              # RULE.md's decision, then test

`site_features.csv` (one row per candidate site: id, set, finder rank, DCC to the nearest ligand copy's centroid,
docking.scoring.site_features.SITE_FEATURES) is a cache: a complex already in it is not recomputed; it is rewritten
whole (atomically) after every complex. A complex without any site has no rows and counts as a miss.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import zlib
from pathlib import Path

import numpy as np

from benchmarks.pocket_bench import DCC_CUTOFF_A, ligand_centroids, site_dccs
from benchmarks.studies import DATASET, RESULTS, log_to_console, write_rows
from data_prep.inputs import pdbbind_jobs
from data_prep.protein import read_heavy_atoms
from disco_core.errors import InputError
from disco_core.io import atomic_open
from docking.inference.site_search import NoCavityError, blind_site_table
from docking.scoring.pose_ranker import PoseGroup, fit_ranker
from docking.scoring.site_features import SITE_FEATURES, site_features

STUDY = "site_ranker"
log = logging.getLogger(STUDY)
CANDIDATES = 20
FOLDS = 5
L2 = 1e-2
FIELDS = ["id", "set", "rank", "dcc", *SITE_FEATURES]
VAL_MARGIN = 3          # RULE.md: recall@1 >= finder's + 3 complexes and recall@3 not lower


def sets(dataset: Path) -> dict[str, tuple[Path, Path]]:
    root = dataset.parent
    return {"train": (dataset, root / "splits" / "train.txt"),
            "extra": (root / "extra" / "complexes", root / "extra" / "splits" / "train_extra.txt"),
            "val": (dataset, root / "splits" / "val.txt"), "test": (dataset, root / "splits" / "test.txt")}


def read_table(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def features(args: argparse.Namespace) -> None:
    path = args.out / "site_features.csv"
    rows = read_table(path)
    done = {r["id"] for r in rows} | set(json.loads((args.out / "no_sites.json").read_text())
                                         if (args.out / "no_sites.json").is_file() else [])
    no_sites = sorted(done - {r["id"] for r in rows})
    for set_name, (dataset, split) in sets(args.dataset).items():
        for job in pdbbind_jobs(dataset, split):
            if job.name in done:
                continue
            try:
                protein = read_heavy_atoms(job.protein_path)
                sites = blind_site_table(job.protein_path, protein.pos, 0, CANDIDATES)
            except NoCavityError:
                no_sites.append(job.name)
                (args.out / "no_sites.json").write_text(json.dumps(sorted(no_sites), indent=1) + "\n")
                continue
            except InputError as exc:
                log.warning("%s: skipped (%s)", job.name, exc.reason)
                continue
            dcc = site_dccs([s.center for s in sites], ligand_centroids(job.ligand, job.name))
            values = site_features(sites, protein.pos)
            rows += [{"id": job.name, "set": set_name, "rank": s.rank, "dcc": round(d, 3),
                      **{f: round(float(v), 5) for f, v in zip(SITE_FEATURES, row)}}
                     for s, d, row in zip(sites, dcc, values)]
            with atomic_open(path, "w") as handle:
                writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)
            log.info("%s (%s): %d sites", job.name, set_name, len(sites))


def groups_by_set(args: argparse.Namespace) -> dict[str, list[PoseGroup]]:
    """Per set, one group per complex with sites: features, DCC in place of the RMSD (true site: DCC < 4 A,
    the ranker's NEAR_NATIVE_A is 2: DCC is passed halved), finder order."""
    by_complex: dict[str, list[dict]] = {}
    for row in read_table(args.out / "site_features.csv"):
        by_complex.setdefault(row["id"], []).append(row)
    out: dict[str, list[PoseGroup]] = {name: [] for name in sets(args.dataset)}
    for name, rows in sorted(by_complex.items()):
        rows.sort(key=lambda r: int(r["rank"]))
        out[rows[0]["set"]].append(PoseGroup(
            name, np.array([[float(r[f]) for f in SITE_FEATURES] for r in rows]),
            np.array([float(r["dcc"]) for r in rows]) * (2.0 / DCC_CUTOFF_A), np.arange(len(rows))))
    return out


def set_sizes(args: argparse.Namespace) -> dict[str, int]:
    return {name: len(pdbbind_jobs(d, s)) for name, (d, s) in sets(args.dataset).items()}


def hits_at(orders: list[np.ndarray], groups: list[PoseGroup], n: int) -> int:
    return sum(bool((g.rmsd[o[:n]] < 2.0).any()) for o, g in zip(orders, groups))


def evaluate(ranker, groups: list[PoseGroup], total: int) -> dict:
    finder = [np.arange(len(g.rmsd)) for g in groups]
    ranked = [ranker.order(g.features, g.default_rank) for g in groups]
    return {"complexes": total, **{f"finder_hits@{n}": hits_at(finder, groups, n) for n in (1, 3, 5)},
            **{f"ranker_hits@{n}": hits_at(ranked, groups, n) for n in (1, 3, 5)},
            f"hits@{CANDIDATES}": hits_at(finder, groups, CANDIDATES)}


def cv(args: argparse.Namespace) -> None:
    groups = {k: v for k, v in groups_by_set(args).items()}
    training = groups["train"] + groups["extra"]
    total = set_sizes(args)["train"] + set_sizes(args)["extra"]
    fold = [zlib.crc32(g.name.encode()) % FOLDS for g in training]
    orders: list[np.ndarray | None] = [None] * len(training)
    for k in range(FOLDS):
        ranker = fit_ranker([g for g, f in zip(training, fold) if f != k], SITE_FEATURES, L2)
        for i, g in enumerate(training):
            if fold[i] == k:
                orders[i] = ranker.order(g.features, g.default_rank)
    finder = [np.arange(len(g.rmsd)) for g in training]
    table = {"complexes": total, "with_sites": len(training), "folds": FOLDS, "l2": L2,
             **{f"finder_hits@{n}": hits_at(finder, training, n) for n in (1, 3, 5)},
             **{f"ranker_cv_hits@{n}": hits_at(orders, training, n) for n in (1, 3, 5)},
             f"hits@{CANDIDATES}": hits_at(finder, training, CANDIDATES)}
    full = fit_ranker(training, SITE_FEATURES, L2)
    table["weights_all_training"] = dict(zip(SITE_FEATURES, np.round(full.weights, 4).tolist()))
    (args.out / "cv_training.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(table, indent=2))


def val(args: argparse.Namespace) -> None:
    groups = groups_by_set(args)
    sizes = set_sizes(args)
    ranker = fit_ranker(groups["train"] + groups["extra"], SITE_FEATURES, L2)
    table = {"val": evaluate(ranker, groups["val"], sizes["val"]),
             "weights": dict(zip(SITE_FEATURES, np.round(ranker.weights, 4).tolist()))}
    v = table["val"]
    table["ships"] = bool(v["ranker_hits@1"] >= v["finder_hits@1"] + VAL_MARGIN
                          and v["ranker_hits@3"] >= v["finder_hits@3"])
    table["test (after the decision)"] = evaluate(ranker, groups["test"], sizes["test"])
    (args.out / "decision.json").write_text(json.dumps(table, indent=2) + "\n")
    rows = []
    for set_name in ("val", "test"):
        for g in groups[set_name]:
            order = ranker.order(g.features, g.default_rank)
            rows.append({"id": g.name, "set": set_name, "finder_site1_dcc": round(float(g.rmsd[0]) * 2, 3),
                         "ranker_site1_dcc": round(float(g.rmsd[order[0]]) * 2, 3),
                         "ranker_site1_finder_rank": int(order[0]) + 1, "sites": len(g.rmsd)})
    write_rows(args.out / "per_complex_val_test.csv", rows)
    log.info("%s", json.dumps(table, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("features", "cv", "val"))
    parser.add_argument("--out", type=Path, default=RESULTS / STUDY)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)
    log_to_console()
    args.out.mkdir(parents=True, exist_ok=True)
    {"features": features, "cv": cv, "val": val}[args.step](args)


if __name__ == "__main__":
    main()
