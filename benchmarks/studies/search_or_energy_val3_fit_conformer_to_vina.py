"""Is Vina's near-native pose in our pose space? Our conformer (each of our ten poses of the run) is fitted to
Vina's closest pose by translation, rotation and torsions alone (Adam on the RMSD, 8 starts of the torsions),
then minimised 500 steps in our pairwise energy; 0.00 A fit and Vina's energy mean the pose is reachable by our
search and our energy prefers it. After search_or_energy_val3_diagnose's run b exists:
    OMP_NUM_THREADS=1 python -m benchmarks.studies.search_or_energy_val3_fit_conformer_to_vina --run runs/diag/b
Writes fit_to_vina.csv to --out (default benchmarks/results/search_or_energy_val3)."""

from __future__ import annotations

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
from docking.physics.local_minimization import minimize_near, posed

STUDY = "search_or_energy_val3"
COMPLEXES = ("1bzy", "2pyy")
log = logging.getLogger("fit_conformer_to_vina")


def method_poses(run: Path, method: str, name: str) -> list[Chem.Mol]:
    folder = next(p for p in run.iterdir() if p.is_dir() and p.name.split("-")[0] == method)
    return [Chem.RemoveHs(p) for p in Chem.SDMolSupplier(str(folder / f"{name}.sdf"), removeHs=False)]


def fitted(start: torch.Tensor, target: torch.Tensor, bonds: torch.Tensor, masks: torch.Tensor) -> tuple[float, torch.Tensor]:
    """The pose of `start`'s conformer closest to `target` over translation, rotation and torsions."""
    best = (float("inf"), None)
    for restart in range(8):
        generator = torch.Generator().manual_seed(restart)
        torsions = ((torch.rand(bonds.shape[0], generator=generator) * 2 - 1) * np.pi if restart
                    else torch.zeros(bonds.shape[0]))
        begin = posed((start - start.mean(0) + target.mean(0))[None], torch.zeros(1, 3), torch.zeros(1, 3),
                      torsions[None], bonds, masks)
        params = [torch.zeros(1, 3, requires_grad=True),
                  (torch.randn(1, 3, generator=generator) * (1.0 if restart else 0.0)).requires_grad_(True),
                  torch.zeros(1, bonds.shape[0], requires_grad=True)]
        optimizer = torch.optim.Adam(params, lr=0.05)
        for _ in range(600):
            optimizer.zero_grad()
            pose = posed(begin, *params, bonds, masks)
            loss = (pose[0] - target).pow(2).sum(-1).mean()
            loss.backward()
            optimizer.step()
        if float(loss.detach().sqrt()) < best[0]:
            best = (float(loss.detach().sqrt()), pose.detach())
    return best


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False, dataset=True)
    parser.add_argument("--run", type=Path, default=RUNS / "diag" / "b", metavar="RUN",
                        help="the `disco bench dock --methods disco,vina` run (default <repository>/runs/diag/b)")
    args = parser.parse_args(argv)
    out = output_folder(args, STUDY)
    torch.set_num_threads(1)
    rows = []
    for name in COMPLEXES:
        ours, vina = method_poses(args.run, "disco", name), method_poses(args.run, "vina", name)
        references = read_references(args.dataset / name, name)
        vina_rmsd = pose_errors(vina, references).rmsd
        target = torch.tensor(vina[int(vina_rmsd.argmin())].GetConformer().GetPositions(), dtype=torch.float32)
        mol = ours[0]
        bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(mol))
        center = target.mean(0)
        protein = args.dataset / name / f"{name}_protein.pdb"
        energy = InteractionEnergy.for_ligand(mol, receptor_atoms(read_heavy_atoms(protein), center.double(), 30.0))
        vina_energy = float(minimize_near(energy, target[None], bonds, masks, center, 500)[1][0])
        for k, pose in enumerate(ours):
            fit_rmsd, start = fitted(torch.tensor(pose.GetConformer().GetPositions(), dtype=torch.float32), target,
                                     bonds, masks)
            moved, minimised = minimize_near(energy, start, bonds, masks, center, 500)
            copy = Chem.Mol(mol)
            for i, xyz in enumerate(moved[0].tolist()):
                copy.GetConformer().SetAtomPosition(i, xyz)
            rows.append({"id": name, "our_pose": k, "vina_pose_rmsd": round(float(vina_rmsd.min()), 3),
                         "E_vina_pose_minimised": round(vina_energy, 3), "fit_rmsd_to_vina": round(fit_rmsd, 3),
                         "E_fitted_minimised": round(float(minimised[0]), 3),
                         "fitted_minimised_rmsd_to_crystal": round(float(pose_errors([copy], references).rmsd[0]), 3)})
            log.info("%s", rows[-1])
    write_rows(out / "fit_to_vina.csv", rows)


if __name__ == "__main__":
    log_to_console()
    main()
