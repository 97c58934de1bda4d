"""RULE.md's rankings E, M, V and I of the 20 poses each val run saved, and the energy diagnostics behind them.

After the runs of benchmarks/results/rerank_val20/RULE.md exist as RUNS/val20_s{0,1}:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.rerank_val20_rerank_saved_poses --runs runs [seed ...]
Writes per_run_s<seed>.csv to --out (default benchmarks/results/rerank_val20): one row per run, the RMSD each
ranking puts first, and the energies of the top-1 and of the closest pose before and after re-minimisation;
rerank_val20_summary pools them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from benchmarks.pose_metrics import pose_errors, read_references
from benchmarks.studies import RUNS, log_to_console, output_folder, study_parser, write_rows
from data_prep.protein import read_heavy_atoms
from data_prep.torsions import rotatable_bonds
from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
from docking.physics.local_minimization import minimize_near
from docking.physics.vina import DEFAULT_MIN_BOX_SIZE, DEFAULT_PADDING, box_around_points, prepare_ligand
from docking.physics.vina_receptor import prepare_receptor

STUDY = "rerank_val20"
MINIMIZE_STEPS = 500
log = logging.getLogger("rerank_saved_poses")


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
    """Vina's local_only optimisation of every pose, one set of maps per run (a box over all the poses).

    Uses docking.physics.vina's engine, heavy-atom copy and PDBQT reader directly (`vina_score` computes
    maps around each pose, not one set per run, so it would not repeat the records)."""
    from docking.physics.vina import heavy_copy, poses_from_pdbqt, vina_engine

    receptor = prepare_receptor(protein, cache)
    templates = [heavy_copy(p, name) for p in poses]
    ligands = [prepare_ligand(t, t.GetConformer().GetPositions(), name=name) for t in templates]
    box = box_around_points(np.vstack([t.GetConformer().GetPositions() for t in templates]),
                            padding=DEFAULT_PADDING + 4.0, min_size=DEFAULT_MIN_BOX_SIZE)
    engine = vina_engine(receptor, ligands[0][0], box, seed=0, cpu=1, name=name)
    out, energies = [], []
    folder = cache / "vina_poses"
    folder.mkdir(parents=True, exist_ok=True)
    for k, (template, (pdbqt, order)) in enumerate(zip(templates, ligands)):
        engine.set_ligand_from_string(pdbqt)
        energies.append(float(engine.optimize()[0]))
        path = folder / f"{name}_{k}.pdbqt"
        engine.write_pose(str(path), overwrite=True)
        out.append(poses_from_pdbqt(path.read_text(), template, order, name)[0])
    return out, np.array(energies)


def rerank_run(record: Path, dataset: Path) -> dict:
    result = json.loads(record.read_text())
    name = result["id"]
    poses = [p for p in Chem.SDMolSupplier(str(record.with_suffix(".sdf")), removeHs=False)]
    references = read_references(dataset / name, name)
    protein = dataset / name / f"{name}_protein.pdb"
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


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False, dataset=True)
    parser.add_argument("seeds", nargs="*", type=int, default=[0, 1], help="val seeds (default 0 1)")
    parser.add_argument("--runs", type=Path, default=RUNS, metavar="DIR",
                        help="the folder holding the runs val20_s<seed> (default <repository>/runs)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    torch.set_num_threads(1)
    for seed in args.seeds:
        rows = []
        for record in sorted((args.runs / f"val20_s{seed}" / "disco").glob("*.json")):
            if json.loads(record.read_text())["status"] != "ok":
                continue
            rows.append({"seed": seed, **rerank_run(record, args.dataset)})
            log.info("%s", rows[-1])
        write_rows(out / f"per_run_s{seed}.csv", rows)


if __name__ == "__main__":
    log_to_console()
    main()
