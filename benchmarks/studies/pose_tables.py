"""Per-pose tables of the ranking studies (physics_ranker, basin_ranker): the default's ten poses of every training
complex (data/scorer_decoys/default_poses.npz) or of every complex of a `disco bench dock` run, one row per pose.

Why one place: each ranking study scores the same pose sets with its own function (`rows_of`), and its table is a
cache that a stopped run resumes: a complex already in it is not recomputed, and the table is rewritten whole
(atomically) after every complex.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rdkit import Chem

from data_prep.inputs import pdbbind_jobs
from data_prep.ligand import read_ligand_file
from disco_core.errors import InputError
from disco_core.io import atomic_open
from docking.scoring.decoys import dataset_complexes, read_part

log = logging.getLogger(__name__)

# rows_of(name, seed, mol, coords (P, N, 3), rmsd (P,), energy (P,), protein path) -> one dict per pose
RowsOf = Callable[[str, int, Chem.Mol, np.ndarray, np.ndarray, np.ndarray, Path], list[dict]]


def read_table(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_table(path: Path, rows: list[dict], fields: list[str]) -> None:
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def fill_training_table(path: Path, dataset: Path, decoys: Path, rows_of: RowsOf, fields: list[str]) -> None:
    """Rows of the default's poses of every training (and extra) complex in the decoy set's `default_poses`."""
    rows = read_table(path)
    done = {r["id"] for r in rows}
    jobs = {j.name: j for j in dataset_complexes(dataset, dataset.parent / "splits" / "train.txt")}
    extra = dataset.parent / "extra"
    if (extra / "splits" / "train_extra.txt").is_file():
        jobs.update({j.name: j for j in dataset_complexes(extra / "complexes", extra / "splits" / "train_extra.txt")})
    entries, _ = read_part(decoys)
    for entry in entries:
        if entry.name in done:
            continue
        job = jobs[entry.name]
        try:
            mol = Chem.RemoveHs(read_ligand_file(job.ligand, job.ligand_fallbacks).mol, sanitize=False)
            rows += rows_of(entry.name, 0, mol, entry.coords, entry.rmsd, entry.energy, Path(job.protein_path))
        except InputError as exc:
            log.warning("%s: skipped (%s)", entry.name, exc.reason)
            continue
        write_table(path, rows, fields)
        log.info("%s: %d poses", entry.name, len(entry.rmsd))


def fill_run_table(path: Path, run: Path, dataset: Path, split: Path, seed: int, rows_of: RowsOf,
                   fields: list[str]) -> None:
    """Rows of the ten poses of every complex of a `disco bench dock` run (RUN/disco/<id>.sdf); a complex without
    poses is logged and left out (a miss for every ranking)."""
    from benchmarks.studies.pose_scorer_val import RunFailed, crystal_rmsd, read_poses

    rows = read_table(path)
    done = {r["id"] for r in rows}
    for job in pdbbind_jobs(dataset, split):
        if job.name in done:
            continue
        try:
            poses, energy = read_poses(run, job.name)
            coords = np.stack([p.GetConformer().GetPositions() for p in poses])
            rmsd = crystal_rmsd(job.name, poses, coords, dataset / job.name)
            rows += rows_of(job.name, seed, poses[0], coords, rmsd, energy, Path(job.protein_path))
        except (RunFailed, InputError) as exc:
            log.warning("%s: no poses (%s); a miss for every ranking", job.name, exc)
            continue
        write_table(path, rows, fields)
        log.info("%s: %d poses", job.name, len(poses))
