"""RULE.md's rankings E, M, V and I of the 20 poses each val run saved, and the energy diagnostics behind them.

Run from the repository root after the runs of RULE.md exist under runs/val20_s{0,1}:
    OMP_NUM_THREADS=1 python benchmarks/results/rerank_val20/rerank_saved_poses.py [seed ...]
Writes per_run_s<seed>.csv beside this file (one row per run: the RMSD each ranking puts first, and the energies of
the top-1 and of the closest pose before and after re-minimisation); summary.py pools them.
"""

import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from benchmarks.pose_metrics import pose_errors, read_references
from data_prep.protein import read_heavy_atoms
from data_prep.torsions import rotatable_bonds
from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
from docking.physics.local_minimization import minimize_near
from docking.physics.vina import (DEFAULT_MIN_BOX_SIZE, DEFAULT_PADDING, _heavy_copy, _poses_from_pdbqt, _vina,
                                  box_around_points, prepare_ligand)
from docking.physics.vina_receptor import prepare_receptor

DATA = Path("../shared/data/complexes")
HERE = Path(__file__).parent
MINIMIZE_STEPS = 500
logging.basicConfig(level=logging.INFO, format="%(message)s")
log = logging.getLogger("rerank_saved_poses")
torch.set_num_threads(1)


def reminimised(poses: list[Chem.Mol], protein: Path) -> tuple[list[Chem.Mol], np.ndarray, np.ndarray, np.ndarray]:
    """Every pose minimised MINIMIZE_STEPS steps in the pairwise energy: the poses, their energies after and before,
    and the intermolecular part of the energies before."""
    mol = Chem.RemoveHs(poses[0])
    pos = torch.tensor(np.stack([Chem.RemoveHs(p).GetConformer().GetPositions() for p in poses]), dtype=torch.float32)
    center = pos.reshape(-1, 3).mean(0)
    extent = float((pos - center).norm(dim=-1).max())
    atoms = receptor_atoms(read_heavy_atoms(protein), center.double(), extent + 8.0 + 8.0)
    energy = InteractionEnergy.for_ligand(mol, atoms)
    bonds, masks = rotatable_bonds(mol)
    out, energies = minimize_near(energy, pos, torch.as_tensor(bonds), torch.as_tensor(masks),
                                  center, MINIMIZE_STEPS)
    moved = []
    for k in range(len(poses)):
        copy = Chem.Mol(mol)
        conformer = copy.GetConformer()
        for i, xyz in enumerate(out[k].tolist()):
            conformer.SetAtomPosition(i, xyz)
        moved.append(copy)
    return moved, energies.numpy(), energy(pos).numpy(), energy.intermolecular(pos).numpy()


def vina_optimised(poses: list[Chem.Mol], protein: Path, cache: Path, name: str) -> tuple[list[Chem.Mol], np.ndarray]:
    """Vina's local_only optimisation of every pose, one set of maps per run (a box over all the poses)."""
    receptor = prepare_receptor(protein, cache)
    templates = [_heavy_copy(p, name) for p in poses]
    ligands = [prepare_ligand(t, t.GetConformer().GetPositions(), name=name) for t in templates]
    box = box_around_points(np.vstack([t.GetConformer().GetPositions() for t in templates]),
                            padding=DEFAULT_PADDING + 4.0, min_size=DEFAULT_MIN_BOX_SIZE)
    engine = _vina(receptor, ligands[0][0], box, seed=0, cpu=1, name=name)
    out, energies = [], []
    folder = cache / "vina_poses"
    folder.mkdir(parents=True, exist_ok=True)
    for k, (template, (pdbqt, order)) in enumerate(zip(templates, ligands)):
        engine.set_ligand_from_string(pdbqt)
        energies.append(float(engine.optimize()[0]))
        path = folder / f"{name}_{k}.pdbqt"
        engine.write_pose(str(path), overwrite=True)
        out.append(_poses_from_pdbqt(path.read_text(), template, order, name)[0])
    return out, np.array(energies)


def rerank_run(record: Path) -> dict:
    result = json.loads(record.read_text())
    name = result["id"]
    poses = [p for p in Chem.SDMolSupplier(str(record.with_suffix(".sdf")), removeHs=False)]
    references = read_references(DATA / name, name)
    protein = DATA / name / f"{name}_protein.pdb"
    rmsd = np.asarray(result["rmsd"], dtype=float)
    moved, energy_m, energy_before, inter_before = reminimised(poses, protein)
    rmsd_m = pose_errors(moved, references).rmsd
    vina_poses, energy_v = vina_optimised(poses, protein, record.parent.parent / "receptors", name)
    rmsd_v = pose_errors(vina_poses, references).rmsd
    closest = int(rmsd.argmin())
    m_pick, v_pick, i_pick = int(energy_m.argmin()), int(energy_v.argmin()), int(inter_before.argmin())
    return {"id": name, "top1_rmsd_E": rmsd[0], "top1_rmsd_M": round(float(rmsd_m[m_pick]), 4),
            "top1_rmsd_V": round(float(rmsd_v[v_pick]), 4), "top1_rmsd_I": rmsd[i_pick], "best_rmsd": rmsd.min(),
            "best_rmsd_M": round(float(rmsd_m.min()), 4), "best_rmsd_V": round(float(rmsd_v.min()), 4),
            "energy_top1": round(float(energy_before[0]), 3), "energy_closest": round(float(energy_before[closest]), 3),
            "energy_M_top1": round(float(energy_m[m_pick]), 3),
            "energy_M_closest": round(float(energy_m[closest]), 3),
            "vina_top1": round(float(energy_v[v_pick]), 3), "vina_closest": round(float(energy_v[closest]), 3)}


def main(seeds: list[int]) -> None:
    for seed in seeds:
        rows = []
        for record in sorted(Path(f"runs/val20_s{seed}/disco").glob("*.json")):
            if json.loads(record.read_text())["status"] != "ok":
                continue
            rows.append({"seed": seed, **rerank_run(record)})
            log.info("%s", rows[-1])
        with open(HERE / f"per_run_s{seed}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1])
