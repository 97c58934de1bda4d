"""RULE.md's rankings of the ten poses each val run wrote (benchmarks/results/pose_scorer_val): E (the run's own
order), S (the learned pose scorer, with --scorer), and for comparison Vina's and Vinardo's score_only of each pose
as written, the rank consensus of E, Vina and Vinardo, and the population of each pose's 2 A cluster.

After the runs of RULE.md exist as RUNS/val_s{0,1} (`disco bench dock --methods disco --pocket reference
--no-interactions --seed <seed>` on splits/val.txt):
    OMP_NUM_THREADS=1 python -m benchmarks.studies.pose_scorer_val --runs runs 0 1
and, once the scorer exists (Vina's and Vinardo's numbers are reused from per_pose_s<seed>.csv):
    OMP_NUM_THREADS=1 python -m benchmarks.studies.pose_scorer_val --runs runs --scorer PATH 0 1

Per run (id, seed), over the ten poses of disco/<id>.sdf in their written order: the heavy-atom RMSD to the
crystal ligand <id>_ligand.sdf (data_prep.pose_rmsd, spyrmsd), the run's interaction energy, Vina's and Vinardo's
score_only (one set of maps per run and scoring function over a box around all ten poses, the receptor prepared
by docking.physics.vina_receptor and cached in RUNS/receptors), the number of the ten poses within 2 A plain RMSD
of each pose, and the scorer's logit (higher = better). Rankings: E = written order; Vina, Vinardo = lowest
score first; consensus = lowest mean rank over E, Vina and Vinardo; population = largest first; S = highest logit
first; every tie goes to the earlier pose in E.

Writes to --out (default: the records folder) per_pose_s<seed>.csv (the cache: an id already there is not
recomputed, except for its scorer logits, which --scorer always recomputes: a cached logit may come from another
scorer file), per_run.csv (the RMSD each ranking puts first, and the best of the ten; a run whose files are missing
or unreadable is a failed row, a miss for every ranking) and summary.json (per ranking: runs and top-1 < 2 A;
best of ten < 2 A; S against E: wins, losses and RULE.md's verdict). --ids / --limit restrict the complexes
(default: --split, splits/val.txt); a shorter test run:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.pose_scorer_val --runs runs --out /tmp/pose_scorer_val --limit 3
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from benchmarks.pool import SUCCESS_A, paired, rmsd as row_rmsd
from benchmarks.studies import DATASET, RUNS, log_to_console, output_folder, study_parser, write_rows
from data_prep.ligand import read_ligand_file
from data_prep.pose_rmsd import symmetry_rmsd, symmetry_rmsd_of_mols
from data_prep.protein import read_heavy_atoms
from disco_core.errors import InputError
from docking.physics.vina import DEFAULT_MIN_BOX_SIZE, DEFAULT_PADDING, box_around_points, heavy_copy, prepare_ligand
from docking.physics.vina_receptor import PreparedReceptor, first_line, prepare_receptor

STUDY = "pose_scorer_val"
log = logging.getLogger(STUDY)

RANKINGS = ("E", "S", "vina", "vinardo", "consensus", "population")
POSE_FIELDS = ["id", "seed", "written_rank", "rmsd", "energy", "vina", "vinardo", "population", "scorer_logit"]
RUN_FIELDS = ["id", "seed", "status", "best_rmsd", *(f"top1_{r}" for r in RANKINGS), "error"]
BOX_PADDING_A = DEFAULT_PADDING + 4.0   # around all ten poses: every ligand atom, hydrogens included, well inside
EXPECTED_RUNS = 60                     # RULE.md: 30 val complexes x seeds 0 and 1
RUN_ERRORS = (InputError, OSError, ValueError, KeyError, RuntimeError, IndexError)


class RunFailed(Exception):
    """A run whose files are missing or unreadable."""


# ------------------------------------------------------------------------------------------- inputs

def read_poses(run_dir: Path, name: str) -> tuple[list[Chem.Mol], np.ndarray]:
    """The heavy-atom poses of disco/<name>.sdf in written order and their `interaction_energy`."""
    record, sdf = run_dir / "disco" / f"{name}.json", run_dir / "disco" / f"{name}.sdf"
    if not record.is_file() or not sdf.is_file():
        raise RunFailed(f"{record.parent / name}.json or .sdf missing")
    result = json.loads(record.read_text())
    if result.get("status") != "ok":
        raise RunFailed(f"run status {result.get('status')!r}")
    mols = list(Chem.SDMolSupplier(str(sdf), removeHs=False))
    if not mols or any(m is None or m.GetNumConformers() == 0 for m in mols):
        raise RunFailed(f"{sdf} has unreadable poses")
    if len(mols) != result.get("n_poses", len(mols)):     # a file still being written
        raise RunFailed(f"{sdf} holds {len(mols)} poses, the record {result['n_poses']}")
    poses = [heavy_copy(m, name) for m in mols]
    if len({Chem.MolToSmiles(p) for p in poses}) != 1 or len({p.GetNumAtoms() for p in poses}) != 1:
        raise RunFailed(f"{sdf}: the poses are not one molecule")
    energy = np.array([float(m.GetProp("interaction_energy")) for m in mols])
    if np.any(np.diff(energy) < -1e-6):
        log.warning("%s: the written order is not the energy order (%s)", name, energy.round(3).tolist())
    return poses, energy


def same_atom_order(reference: Chem.Mol, pose: Chem.Mol) -> bool:
    """Whether the heavy atoms of `reference` and `pose` pair by index (elements and bonds)."""
    if reference.GetNumAtoms() != pose.GetNumAtoms():
        return False
    if any(a.GetAtomicNum() != b.GetAtomicNum() for a, b in zip(reference.GetAtoms(), pose.GetAtoms())):
        return False
    bonds = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in reference.GetBonds()}
    return bonds == {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in pose.GetBonds()}


def crystal_rmsd(name: str, poses: list[Chem.Mol], coords: np.ndarray, complex_dir: Path) -> np.ndarray:
    """Heavy-atom symmetry-corrected RMSD of each pose to the crystal ligand; poses whose atom order is not the
    crystal's are paired by graph isomorphism (logged)."""
    ligand = complex_dir / f"{name}_ligand.sdf"
    if not ligand.is_file():
        raise RunFailed(f"{ligand} missing")
    reference = read_ligand_file(ligand, (complex_dir / f"{name}_ligand.mol2",)).mol
    heavy_reference = Chem.RemoveHs(reference, sanitize=False)
    if same_atom_order(heavy_reference, poses[0]):
        return symmetry_rmsd(heavy_reference, coords)
    log.warning("%s: the poses' atom order is not the crystal ligand's; atoms paired by graph isomorphism", name)
    return symmetry_rmsd_of_mols(heavy_reference, poses)


def population(coords: np.ndarray, threshold: float = SUCCESS_A) -> np.ndarray:
    """Per pose: how many of the poses (itself included) lie within `threshold` A plain RMSD of it."""
    diff = coords[:, None] - coords[None]
    pairwise = np.sqrt((diff ** 2).sum(-1).mean(-1))
    return (pairwise < threshold).sum(1)


def score_only(receptor: PreparedReceptor, poses: list[Chem.Mol], coords: np.ndarray, name: str,
               sf_name: str) -> np.ndarray:
    """`sf_name`'s ('vina' or 'vinardo') score_only total of each pose as written, one set of maps for all."""
    from vina import Vina

    ligands = [prepare_ligand(poses[0], xyz, name=name)[0] for xyz in coords]
    box = box_around_points(coords.reshape(-1, 3), padding=BOX_PADDING_A, min_size=DEFAULT_MIN_BOX_SIZE)
    engine = Vina(sf_name=sf_name, cpu=1, seed=1, verbosity=0)
    try:
        engine.set_receptor(rigid_pdbqt_filename=str(receptor.pdbqt_path))
        engine.set_ligand_from_string(ligands[0])
        engine.compute_vina_maps(center=list(box.center), box_size=list(box.size))
        values = []
        for pdbqt in ligands:
            engine.set_ligand_from_string(pdbqt)
            values.append(float(engine.score()[0]))
    except Exception as exc:   # the vina package raises bare RuntimeErrors and TypeErrors
        raise InputError(name, f"{sf_name} score_only failed ({first_line(exc)})") from None
    return np.array(values)


def scorer_logits(scorer, template: Chem.Mol, coords: np.ndarray, protein: Path) -> np.ndarray:
    """The pose scorer's logit of each pose (higher = better)."""
    with torch.no_grad():
        logits = scorer.logits(template, coords.astype(np.float32), read_heavy_atoms(protein))
    if isinstance(logits, torch.Tensor):
        logits = logits.detach().cpu().numpy()
    logits = np.asarray(logits, dtype=float).reshape(-1)
    if len(logits) != len(coords):
        raise InputError("scorer", f"{len(logits)} logits for {len(coords)} poses")
    return logits


# --------------------------------------------------------------------------------------- per run

def run_poses(name: str, seed: int, run_dir: Path, complex_dir: Path, receptors: Path, scorer,
              cached: list[dict] | None) -> list[dict]:
    """One row per pose (POSE_FIELDS); with `cached` rows only the scorer's logits are added."""
    poses, energy = read_poses(run_dir, name)
    coords = np.stack([p.GetConformer().GetPositions() for p in poses])
    protein = complex_dir / f"{name}_protein.pdb"
    if not protein.is_file():
        raise RunFailed(f"{protein} missing")
    if cached is not None:
        if len(cached) != len(poses):
            raise RunFailed(f"{len(cached)} cached poses, {len(poses)} in the run")
        rows = [dict(r) for r in cached]
    else:
        rmsd = crystal_rmsd(name, poses, coords, complex_dir)
        receptor = prepare_receptor(protein, receptors)
        vina = score_only(receptor, poses, coords, name, "vina")
        vinardo = score_only(receptor, poses, coords, name, "vinardo")
        rows = [{"id": name, "seed": seed, "written_rank": k + 1, "rmsd": round(float(rmsd[k]), 4),
                 "energy": round(float(energy[k]), 4), "vina": round(float(vina[k]), 4),
                 "vinardo": round(float(vinardo[k]), 4), "population": int(n), "scorer_logit": ""}
                for k, n in enumerate(population(coords))]
        _check_record(name, run_dir, rmsd)
    if scorer is not None:
        for row, logit in zip(rows, scorer_logits(scorer, poses[0], coords, protein)):
            row["scorer_logit"] = round(float(logit), 5)
    return rows


def _check_record(name: str, run_dir: Path, rmsd: np.ndarray) -> None:
    """Log where the run's own RMSDs (closest crystal copy) differ from ours (the crystal ligand)."""
    recorded = json.loads((run_dir / "disco" / f"{name}.json").read_text()).get("rmsd")
    if recorded and len(recorded) == len(rmsd) and np.abs(np.asarray(recorded, float) - rmsd).max() > 0.01:
        log.warning("%s: RMSDs differ from the run's record by up to %.3f A", name,
                    float(np.abs(np.asarray(recorded, float) - rmsd).max()))


def rank_orders(rows: Sequence[dict], with_scorer: bool) -> dict[str, list[int]]:
    """Each ranking's order of the poses (indices into the written order), best first; ties by E. S only
    `with_scorer` (a logit cached by an earlier --scorer run is not used without one)."""
    def value(row: dict, key: str) -> float:
        return float(row[key]) if row.get(key) not in (None, "") else math.nan

    n = len(rows)
    by = lambda values: sorted(range(n), key=lambda k: (values[k], k))   # noqa: E731
    orders = {"E": list(range(n)),
              "vina": by([value(r, "vina") for r in rows]),
              "vinardo": by([value(r, "vinardo") for r in rows]),
              "population": by([-value(r, "population") for r in rows])}
    position = {key: {pose: place for place, pose in enumerate(orders[key])} for key in ("E", "vina", "vinardo")}
    orders["consensus"] = by([sum(position[key][k] for key in position) / 3 for k in range(n)])
    logits = [value(r, "scorer_logit") for r in rows]
    if with_scorer and not any(math.isnan(v) for v in logits):
        orders["S"] = by([-v for v in logits])
    return orders


def run_row(name: str, seed: int, rows: Sequence[dict], with_scorer: bool) -> dict:
    rmsd = [float(r["rmsd"]) for r in rows]
    orders = rank_orders(rows, with_scorer)
    return {"id": name, "seed": seed, "status": "ok", "best_rmsd": min(rmsd),
            **{f"top1_{key}": rmsd[orders[key][0]] if key in orders else "" for key in RANKINGS}, "error": ""}


# ------------------------------------------------------------------------------------------ summary

def verdict(s_hits: int, e_hits: int, wins: int, losses: int) -> str:
    """RULE.md: default with >= 4 more top-1 hits than E and more wins than losses; option when 1-3 more;
    option-not-worse when it does not lose to E; otherwise no."""
    if s_hits - e_hits >= 4 and wins > losses:
        return "default"
    if 1 <= s_hits - e_hits <= 3 and wins > losses:
        return "option"
    if s_hits >= e_hits and wins >= losses:
        return "option-not-worse"
    return "no"


def summary(per_run: list[dict]) -> dict:
    """Per ranking: runs and top-1 < 2 A (a failed run a miss); best of ten < 2 A; each ranking against E
    (win: its top-1 < 2 A and E's not); S's verdict."""
    top1 = {key: {(r["seed"], r["id"]): row_rmsd(r, f"top1_{key}") for r in per_run} for key in RANKINGS}
    result: dict = {"runs": len(per_run), "expected_runs": EXPECTED_RUNS,
                    "failed": sum(r["status"] != "ok" for r in per_run),
                    "best_lt2": sum(row_rmsd(r, "best_rmsd") < SUCCESS_A for r in per_run), "rankings": {}}
    for key in RANKINGS:
        if key == "S" and not any(r.get("top1_S") not in (None, "") for r in per_run):
            continue
        against = paired(top1[key], top1["E"])
        result["rankings"][key] = {"runs": len(per_run),
                                   "top1_lt2": sum(v < SUCCESS_A for v in top1[key].values()),
                                   **({} if key == "E" else {"wins_vs_E": against["only_first_lt2"],
                                                             "losses_vs_E": against["only_second_lt2"]})}
    if "S" in result["rankings"]:
        s, e = result["rankings"]["S"], result["rankings"]["E"]
        result["S_vs_E"] = {"wins": s["wins_vs_E"], "losses": s["losses_vs_E"],
                            "top1_lt2_difference": s["top1_lt2"] - e["top1_lt2"],
                            "verdict": verdict(s["top1_lt2"], e["top1_lt2"], s["wins_vs_E"], s["losses_vs_E"]),
                            "complete": len(per_run) == EXPECTED_RUNS and result["failed"] == 0}
    return result


# -------------------------------------------------------------------------------------------- main

def read_cache(path: Path) -> dict[str, list[dict]]:
    """per_pose_s<seed>.csv's rows by id, in written order."""
    cache: dict[str, list[dict]] = {}
    if path.is_file():
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                cache.setdefault(row["id"], []).append(row)
    for rows in cache.values():
        rows.sort(key=lambda r: int(r["written_rank"]))
    return cache


def complex_ids(args) -> list[str]:
    ids = args.ids or [line.split()[0] for line in args.split.read_text().splitlines() if line.strip()]
    return ids[:args.limit] if args.limit else ids


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, dataset=True)
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1], help="val seeds (default 0 1)")
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="DIR",
                        help="the folder holding the runs val_s<seed> (default <repository>/runs)")
    parser.add_argument("--scorer", type=Path, default=None, metavar="PATH",
                        help="a pose-scorer file (docking.scoring.pose_scorer.PoseScorer.load); without it, no S")
    parser.add_argument("--split", type=Path, default=DATASET.parent / "splits" / "val.txt", metavar="FILE",
                        help="the complexes, one id a line (default ../shared/data/splits/val.txt)")
    parser.add_argument("--ids", nargs="*", metavar="ID", help="these complexes instead of --split's (seeds first)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N complexes")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    torch.set_num_threads(1)
    scorer = None
    if args.scorer is not None:
        from docking.scoring.pose_scorer import PoseScorer

        scorer = PoseScorer.load(args.scorer)
    receptors = args.runs / "receptors"
    receptors.mkdir(parents=True, exist_ok=True)
    ids = complex_ids(args)
    per_run = []
    for seed in args.seeds:
        cache_path = out / f"per_pose_s{seed}.csv"
        cache = read_cache(cache_path)
        for name in ids:
            cached = cache.get(name)
            try:    # with --scorer, the logits are always recomputed (cheap; a cached one may be another scorer's)
                if cached is None or scorer is not None:
                    cache[name] = run_poses(name, seed, args.runs / f"val_s{seed}", args.dataset / name,
                                            receptors, scorer, cached)
                    write_rows(cache_path, [r for rows in cache.values() for r in rows], POSE_FIELDS)
                per_run.append(run_row(name, seed, cache[name], scorer is not None))
                log.info("s%d %s: %s", seed, name, {k: v for k, v in per_run[-1].items()
                                                    if k.startswith(("best", "top1")) and v != ""})
            except (RunFailed, *RUN_ERRORS) as exc:
                log.warning("s%d %s failed: %s", seed, name, first_line(exc))
                per_run.append({"id": name, "seed": seed, "status": "failed", "best_rmsd": "",
                                **{f"top1_{key}": "" for key in RANKINGS}, "error": first_line(exc)})
    write_rows(out / "per_run.csv", per_run, RUN_FIELDS)
    result = summary(per_run)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    log.info("%s", json.dumps(result, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
