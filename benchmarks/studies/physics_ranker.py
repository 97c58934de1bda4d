"""benchmarks/results/physics_ranker (RULE.md): does a linear ranker on physics Vina leaves out put the right pose
first more often than the default's energy order?

    # per-pose features of the default's ten poses on 279 training complexes (data/scorer_decoys/default_poses.npz)
    OMP_NUM_THREADS=1 python -m benchmarks.studies.physics_ranker features-train
    # stage 1: five folds over the training complexes
    python -m benchmarks.studies.physics_ranker cv
    # stage 2 (only if stage 1 passes): the val runs of ../vina_typing_val, seeds 0 and 1
    OMP_NUM_THREADS=1 python -m benchmarks.studies.physics_ranker features-val --run runs/typing_val_s0 --seed 0
    OMP_NUM_THREADS=1 python -m benchmarks.studies.physics_ranker features-val --run runs/typing_val_s1 --seed 1
    python -m benchmarks.studies.physics_ranker val

Feature tables are per pose (id, seed, written_rank, rmsd, energy, FEATURES) and are caches: a complex already in
one is not recomputed, and the table is rewritten whole (atomically) after every complex.
"""

from __future__ import annotations

import argparse
import json
import logging
import zlib
from pathlib import Path

import numpy as np
from rdkit import Chem

from benchmarks.studies import RESULTS, ROOT, RUNS, DATASET, log_to_console, write_rows
from benchmarks.studies.pose_tables import fill_run_table, fill_training_table, read_table
from data_prep.protein import read_heavy_atoms
from docking.scoring.pose_physics import FEATURES, physics_features
from docking.scoring.pose_ranker import NEAR_NATIVE_A, PoseGroup, fit_ranker, top1_near_native

STUDY = "physics_ranker"
RECORDS = RESULTS / STUDY
log = logging.getLogger(STUDY)

FIELDS = ["id", "seed", "written_rank", "rmsd", "energy", *FEATURES]
ENERGY_INPUTS = FEATURES[:6]                 # the five weighted terms and the internal energy
PHYSICS = FEATURES[6:]
FOLDS = 5
L2 = 1e-2
STAGE1_MARGIN = 8                            # RULE.md: R's CV top-1 >= E + 8 and wins >= 2 x losses
STAGE2_MARGIN = 3                            # RULE.md: val top-1 >= E + 3 and wins > losses


# ------------------------------------------------------------------------------------------- features

def pose_rows(name: str, seed: int, mol: Chem.Mol, coords: np.ndarray, rmsd: np.ndarray, energy: np.ndarray,
              protein: Path) -> list[dict]:
    features = physics_features(mol, coords, read_heavy_atoms(protein))
    return [{"id": name, "seed": seed, "written_rank": k + 1, "rmsd": round(float(rmsd[k]), 4),
             "energy": round(float(energy[k]), 4), **{f: round(float(v), 5) for f, v in zip(FEATURES, features[k])}}
            for k in range(len(coords))]


def features_train(args: argparse.Namespace) -> None:
    """Features of the default's poses of every training complex in the decoy set's source 3."""
    fill_training_table(args.out / "train_features.csv", args.dataset, args.decoys, pose_rows, FIELDS)


def features_val(args: argparse.Namespace) -> None:
    """Features of the ten poses of every complex of a `disco bench dock` run (RUN/disco/<id>.sdf)."""
    fill_run_table(args.out / f"val_features_s{args.seed}.csv", args.run, args.dataset, args.split, args.seed,
                   pose_rows, FIELDS)


# ------------------------------------------------------------------------------------------- rankings

def groups_of(rows: list[dict]) -> list[PoseGroup]:
    by_run: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_run.setdefault((row["seed"], row["id"]), []).append(row)
    groups = []
    for (seed, name), poses in sorted(by_run.items()):
        poses.sort(key=lambda r: int(r["written_rank"]))
        groups.append(PoseGroup(f"{name}:{seed}", np.array([[float(r[f]) for f in FEATURES] for r in poses]),
                                np.array([float(r["rmsd"]) for r in poses]),
                                np.array([int(r["written_rank"]) - 1 for r in poses])))
    return groups


def fold_of(group: PoseGroup) -> int:
    return zlib.crc32(group.name.split(":")[0].encode()) % FOLDS


def feature_sets() -> dict[str, tuple[str, ...]]:
    """R (every feature), the energy inputs alone, and each physics feature added to them alone."""
    sets = {"R": FEATURES, "energy_terms": ENERGY_INPUTS}
    sets.update({f"energy_terms+{name}": ENERGY_INPUTS + (name,) for name in PHYSICS})
    return sets


def paired(first: list[bool], second: list[bool]) -> tuple[int, int]:
    wins = sum(a and not b for a, b in zip(first, second))
    return wins, sum(b and not a for a, b in zip(first, second))


def cross_validated(groups: list[PoseGroup]) -> tuple[dict, list[dict]]:
    """Every feature set's cross-validated top-1 hits per group."""
    hits = {name: [False] * len(groups) for name in feature_sets()}
    for fold in range(FOLDS):
        train = [g for g in groups if fold_of(g) != fold]
        for name, names in feature_sets().items():
            columns = [FEATURES.index(f) for f in names]
            sub = [PoseGroup(g.name, g.features[:, columns], g.rmsd, g.default_rank) for g in train]
            ranker = fit_ranker(sub, names, L2)
            for k, g in enumerate(groups):
                if fold_of(g) == fold:
                    hits[name][k] = top1_near_native(ranker, g, columns)
    return hits, []


def cv(args: argparse.Namespace) -> None:
    groups = groups_of(read_table(args.out / "train_features.csv"))
    default = [bool(g.rmsd[0] < NEAR_NATIVE_A) for g in groups]
    best = [bool((g.rmsd < NEAR_NATIVE_A).any()) for g in groups]
    hits, _ = cross_validated(groups)
    table = {"complexes": len(groups), "best_of_ten": sum(best), "E_top1": sum(default), "folds": FOLDS, "l2": L2}
    for name, values in hits.items():
        wins, losses = paired(values, default)
        table[name] = {"top1": sum(values), "wins_vs_E": wins, "losses_vs_E": losses}
    r = table["R"]
    candidate = "R"
    for name in sorted(hits, key=lambda n: len(feature_sets()[n])):
        if name != "R" and table[name]["top1"] >= r["top1"] and len(feature_sets()[name]) < len(FEATURES):
            candidate = name
            break
    chosen = table[candidate]
    table["stage1_candidate"] = candidate
    table["stage1_passes"] = bool(chosen["top1"] >= table["E_top1"] + STAGE1_MARGIN
                                  and chosen["wins_vs_E"] >= 2 * chosen["losses_vs_E"])
    full = fit_ranker(groups, FEATURES, L2)
    table["R_weights_all_training"] = dict(zip(FEATURES, np.round(full.weights, 4).tolist()))
    (args.out / "stage1.json").write_text(json.dumps(table, indent=2) + "\n")
    write_rows(args.out / "stage1_per_complex.csv",
               [{"id": g.name.split(":")[0], "best_rmsd": round(float(g.rmsd.min()), 3),
                 "E_top1_rmsd": round(float(g.rmsd[0]), 3), **{f"{n}_hit": int(hits[n][k]) for n in hits}}
                for k, g in enumerate(groups)])
    log.info("%s", json.dumps(table, indent=2))


def val(args: argparse.Namespace) -> None:
    stage1 = json.loads((args.out / "stage1.json").read_text())
    if not stage1["stage1_passes"]:
        raise SystemExit("stage 1 did not pass (stage1.json): RULE.md runs no val stage")
    names = feature_sets()[stage1["stage1_candidate"]]
    columns = [FEATURES.index(f) for f in names]
    train = [PoseGroup(g.name, g.features[:, columns], g.rmsd, g.default_rank)
             for g in groups_of(read_table(args.out / "train_features.csv"))]
    ranker = fit_ranker(train, names, L2)
    rows = [r for seed in args.seeds for r in read_table(args.out / f"val_features_s{seed}.csv")]
    groups = groups_of(rows)
    default = [bool(g.rmsd[0] < NEAR_NATIVE_A) for g in groups]
    chosen = [top1_near_native(ranker, g, columns) for g in groups]
    wins, losses = paired(chosen, default)
    e_hits = sum(default)
    table = {"runs_with_poses": len(groups), "expected_runs": 60, "best_of_ten": int(sum((g.rmsd < 2).any() for g in groups)),
             "E_top1": e_hits, "ranker": stage1["stage1_candidate"], "ranker_top1": sum(chosen),
             "wins_vs_E": wins, "losses_vs_E": losses,
             "ships": bool(sum(chosen) >= e_hits + STAGE2_MARGIN and wins > losses),
             "weights": dict(zip(names, np.round(ranker.weights, 4).tolist()))}
    (args.out / "stage2_val.json").write_text(json.dumps(table, indent=2) + "\n")
    write_rows(args.out / "stage2_val_per_run.csv",
               [{"run": g.name, "best_rmsd": round(float(g.rmsd.min()), 3), "E_top1_rmsd": round(float(g.rmsd[0]), 3),
                 "ranker_top1_rmsd": round(float(g.rmsd[ranker.order(g.features[:, columns], g.default_rank)[0]]), 3)}
                for g in groups])
    log.info("%s", json.dumps(table, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("features-train", "features-val", "cv", "val"))
    parser.add_argument("--out", type=Path, default=RECORDS)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--decoys", type=Path, default=ROOT / "data" / "scorer_decoys" / "default_poses.npz")
    parser.add_argument("--run", type=Path, default=RUNS / "typing_val_s0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--split", type=Path, default=DATASET.parent / "splits" / "val.txt")
    args = parser.parse_args(argv)
    log_to_console()
    args.out.mkdir(parents=True, exist_ok=True)
    {"features-train": features_train, "features-val": features_val, "cv": cv, "val": val}[args.step](args)


if __name__ == "__main__":
    main()
