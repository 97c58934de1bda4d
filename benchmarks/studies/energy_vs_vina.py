"""Our interaction energy against AutoDock Vina's own: the receptor-ligand energy of fixed poses, ours
(docking.physics.interaction_energy, the receptor typed by receptor_atoms, the ligand by ligand_atoms) beside the
`vina` package's score_only lig_inter term (the receptor prepared by docking.physics.vina_receptor, the ligand by
meeko), for the crystal pose and rigidly moved copies of it. Ours twice: as docking uses it (the terms faded to
zero between 7 and 8 A) and with Vina's hard 8 A cutoff, which separates the fade from the atom typing.

    python -m benchmarks.studies.energy_vs_vina --records benchmarks/results/energy_vs_vina

Complexes: the repository's, with a protein (benchmarks.shipped), or --ids from --dataset.
Writes per_pose.csv and summary.json.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from scipy.spatial.transform import Rotation
from scipy.stats import spearmanr

from benchmarks.studies import log_to_console, output_folder, study_parser, write_rows

log = logging.getLogger("energy_vs_vina")
STUDY = "energy_vs_vina"
RECEPTOR_RADIUS_A = 30.0      # receptor atoms this close to the crystal centroid: every pose's 8 A reach and more


@dataclass(frozen=True)
class PoseEnergies:
    complex: str
    pose: int                 # 0: the crystal pose
    shift_A: float            # centroid displacement from the crystal pose
    ours: float               # as docking uses it (7-8 A fade)
    ours_vina_cutoff: float   # with Vina's hard 8 A cutoff
    vina: float               # Vina's score_only lig_inter


def moved_poses(crystal: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """The crystal pose and count - 1 rigid copies: rotation vector ~ N(0, 0.15 rad) per axis, shift ~ N(0, sd)
    per axis with sd rising from 0.3 to 1.5 A, from pressed into the pocket walls to half out of the pocket."""
    rng = np.random.default_rng(seed)
    center = crystal.mean(0)
    poses = [crystal]
    for k in range(1, count):
        rotation = Rotation.from_rotvec(rng.normal(size=3) * 0.15).as_matrix()
        spread = 0.3 + 1.2 * k / max(count - 1, 1)
        poses.append((crystal - center) @ rotation.T + center + rng.normal(size=3) * spread)
    return poses


def compare(name: str, protein: Path, ligand: Path, work: Path, count: int = 20, seed: int = 0) -> list[PoseEnergies]:
    """Both energies of the crystal pose of `ligand` and count - 1 moved copies in `protein`."""
    from data_prep.protein import read_heavy_atoms
    from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
    from docking.physics.vina import heavy_copy, vina_intermolecular
    from docking.physics.vina_receptor import prepare_receptor

    mol = next(iter(Chem.SDMolSupplier(str(ligand), removeHs=False)))
    template = heavy_copy(mol, name)
    crystal = template.GetConformer().GetPositions()
    poses = moved_poses(crystal, count, seed)
    center = torch.tensor(crystal.mean(0))
    energy = InteractionEnergy.for_ligand(template, receptor_atoms(read_heavy_atoms(protein), center, RECEPTOR_RADIUS_A))
    batch = torch.tensor(np.stack(poses), dtype=torch.float32)
    ours = energy.intermolecular(batch).tolist()
    ours_cut = energy.intermolecular(batch, vina_cutoff=True).tolist()
    vina = vina_intermolecular(prepare_receptor(protein, work / name), template, poses, name)
    return [PoseEnergies(name, k, round(float(np.linalg.norm(p.mean(0) - crystal.mean(0))), 3), round(o, 4),
                         round(c, 4), round(float(v), 4))
            for k, (p, o, c, v) in enumerate(zip(poses, ours, ours_cut, vina))]


def summary(rows: list[PoseEnergies]) -> dict:
    """Per complex and over all: the crystal pose's three energies, mean and largest |ours - Vina's| over the
    poses, Spearman's rank correlation with Vina's over the poses (the ranking is what the energy decides)."""
    table = {}
    for name in dict.fromkeys(r.complex for r in rows):
        mine = [r for r in rows if r.complex == name]
        vina = np.array([r.vina for r in mine])
        entry = {"poses": len(mine), "crystal": {"ours": mine[0].ours, "ours_vina_cutoff": mine[0].ours_vina_cutoff,
                                                "vina": mine[0].vina}}
        for key in ("ours", "ours_vina_cutoff"):
            values = np.array([getattr(r, key) for r in mine])
            entry[key] = {"mean_abs_difference": round(float(np.abs(values - vina).mean()), 3),
                          "max_abs_difference": round(float(np.abs(values - vina).max()), 3),
                          "spearman": round(float(spearmanr(values, vina)[0]), 4)}
        table[name] = entry
    for key in ("ours", "ours_vina_cutoff"):
        table[f"all_{key}"] = {
            "max_abs_difference_crystal": round(max(abs(table[n]["crystal"][key] - table[n]["crystal"]["vina"])
                                                    for n in table if not n.startswith("all_")), 4),
            "max_abs_difference": max(table[n][key]["max_abs_difference"] for n in table if not n.startswith("all_")),
            "min_spearman": min(table[n][key]["spearman"] for n in table if not n.startswith("all_"))}
    return table


def main(argv: list[str] | None = None) -> None:
    from benchmarks.shipped import shipped_complexes

    parser = study_parser(__doc__, STUDY, dataset=True)
    parser.add_argument("--ids", nargs="*", metavar="ID", help="complexes of --dataset instead of the shipped ones")
    parser.add_argument("--poses", type=int, default=20, help="poses per complex, the crystal's included (default 20)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    items = ([(i, args.dataset / i / f"{i}_protein.pdb", args.dataset / i / f"{i}_ligand.sdf") for i in args.ids]
             if args.ids else [(c.name, c.protein, c.ligand) for c in shipped_complexes()])
    rows = []
    with tempfile.TemporaryDirectory(prefix="energy-vs-vina-") as work:     # receptor PDBQTs: not records
        for name, protein, ligand in items:
            rows += compare(name, protein, ligand, Path(work), args.poses)
            log.info("%s done", name)
    write_rows(out / "per_pose.csv", [vars(r) for r in rows])
    (out / "summary.json").write_text(json.dumps(summary(rows), indent=2) + "\n")
    log.info("%s", json.dumps({k: v for k, v in summary(rows).items() if k.startswith("all_")}, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
