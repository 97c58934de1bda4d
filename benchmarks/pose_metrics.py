"""How far docked poses are from the crystal ligand: symmetry-corrected RMSD and centroid distance.

RMSD is taken in place (no superposition: the protein frame is the reference frame) over heavy atoms,
minimised over the molecule's graph automorphisms with spyrmsd (data_prep.pose_rmsd, the RMSD training
uses too), so that a flipped phenyl or a swapped carboxylate oxygen is not counted as an error. When
the crystal structure holds several copies of the ligand (`<id>_ligands.sdf`), each pose is compared
with its closest copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from data_prep.pose_rmsd import symmetry_rmsd_of_mols
from disco_core.errors import InputError


@dataclass
class PoseErrors:
    """Per pose: RMSD (A) to the closest reference copy, centroid distance (A) to that copy, its index."""

    rmsd: np.ndarray
    centroid_distance: np.ndarray
    reference_index: np.ndarray


def _heavy(mol: Chem.Mol) -> Chem.Mol:
    if any(atom.GetAtomicNum() == 1 for atom in mol.GetAtoms()):
        mol = Chem.RemoveHs(mol, sanitize=False)
    if mol.GetNumConformers() == 0:
        raise InputError(mol.GetProp("_Name") if mol.HasProp("_Name") else "molecule", "has no coordinates")
    return mol


def plain_rmsd(poses: list[Chem.Mol], reference: Chem.Mol) -> np.ndarray:
    """In-place RMSD with atoms paired by index (no symmetry correction)."""
    target = _heavy(reference).GetConformer().GetPositions()
    return np.array([float(np.sqrt(((_heavy(p).GetConformer().GetPositions() - target) ** 2).sum(1).mean()))
                     for p in poses])


def symmetry_rmsd(poses: list[Chem.Mol], reference: Chem.Mol) -> np.ndarray:
    """In-place heavy-atom RMSD of each pose to `reference`, minimised over graph automorphisms
    (data_prep.pose_rmsd, the one shared with training).

    The atom order of the poses may differ from the reference's (isomorphism is found by graph
    matching on elements and bonds). Raises InputError when the graphs differ."""
    if not poses:
        return np.zeros(0)
    return symmetry_rmsd_of_mols(_heavy(reference), [_heavy(pose) for pose in poses])


def centroid_distances(poses: list[Chem.Mol], reference: Chem.Mol) -> np.ndarray:
    center = _heavy(reference).GetConformer().GetPositions().mean(0)
    return np.array([float(np.linalg.norm(_heavy(p).GetConformer().GetPositions().mean(0) - center)) for p in poses])


def pose_errors(poses: list[Chem.Mol], references: list[Chem.Mol]) -> PoseErrors:
    """Errors against the closest of several reference copies (a copy that is not the same molecule,
    e.g. a partly resolved one, is skipped; at least one copy must match)."""
    table, centroids = [], []
    for reference in references:
        try:
            table.append(symmetry_rmsd(poses, reference))
        except InputError:
            continue
        centroids.append(centroid_distances(poses, reference))
    if not table:
        raise InputError("reference", "no reference copy is the same molecule as the poses")
    table, centroids = np.stack(table), np.stack(centroids)
    best = table.argmin(0)
    columns = np.arange(table.shape[1])
    return PoseErrors(table[best, columns], centroids[best, columns], best)


def read_references(complex_dir: str | Path, complex_id: str) -> list[Chem.Mol]:
    """The crystal ligand `<id>_ligand.sdf` plus every copy in `<id>_ligands.sdf` when present."""
    from data_prep.ligand import read_ligand_file

    folder = Path(complex_dir)
    references = [read_ligand_file(folder / f"{complex_id}_ligand.sdf",
                                   (folder / f"{complex_id}_ligand.mol2",)).mol]
    copies = folder / f"{complex_id}_ligands.sdf"
    if copies.is_file():
        for mol in Chem.SDMolSupplier(str(copies), sanitize=False, removeHs=False):
            if mol is None or mol.GetNumConformers() == 0:
                continue
            mol.UpdatePropertyCache(strict=False)
            references.append(Chem.RemoveHs(mol, sanitize=False))
    return references
