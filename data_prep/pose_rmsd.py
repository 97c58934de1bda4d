"""The one symmetry-corrected RMSD of docked poses, shared by training (validation, confidence labels),
model export (calibration) and the benchmarks.

Docking RMSD is taken in place: the receptor frame is the reference frame, so nothing is centred or
superposed. It runs over heavy atoms and is minimised over the molecule's graph automorphisms
(element-labelled atoms, bonds) with spyrmsd, so that a flipped phenyl or swapped carboxylate oxygens
count as the same pose. Every automorphism is tried (spyrmsd enumerates them all; no cap).

    symmetry_rmsd(reference, poses)        poses as coordinates in the reference's atom order
    symmetry_rmsd_of_mols(reference, mols) poses as molecules, atoms in any order (matched by graph)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from rdkit import Chem

from disco_core.errors import InputError


def _name(mol: Chem.Mol, default: str) -> str:
    return mol.GetProp("_Name") if mol.HasProp("_Name") and mol.GetProp("_Name") else default


def _as_mol(reference: Chem.Mol | str) -> Chem.Mol:
    if isinstance(reference, Chem.Mol):
        return reference
    mol = Chem.MolFromMolBlock(reference, sanitize=False, removeHs=False)
    if mol is None:
        raise InputError("reference molblock", "RDKit cannot read it")
    mol.UpdatePropertyCache(strict=False)
    return mol


def _heavy_indices(mol: Chem.Mol) -> np.ndarray:
    return np.array([atom.GetIdx() for atom in mol.GetAtoms() if atom.GetAtomicNum() != 1], dtype=int)


def _graph(mol: Chem.Mol, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and adjacency matrix of the atoms `keep` (heavy atoms)."""
    numbers = np.array([mol.GetAtomWithIdx(int(i)).GetAtomicNum() for i in keep], dtype=int)
    adjacency = Chem.GetAdjacencyMatrix(mol).astype(int)[np.ix_(keep, keep)]
    return numbers, adjacency


def _coordinates(values: Any) -> np.ndarray:
    """An array from numpy arrays, nested lists or (CPU or GPU) torch tensors."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    elif isinstance(values, (list, tuple)):
        values = [v.detach().cpu().numpy() if hasattr(v, "detach") else v for v in values]
    return np.asarray(values, dtype=float)


def _heavy_rows(coords: np.ndarray, heavy: np.ndarray, num_atoms: int, what: str) -> np.ndarray:
    """The heavy-atom rows of coordinates given either for heavy atoms only or for every atom."""
    if coords.shape[-2] == len(heavy):
        return coords
    if coords.shape[-2] == num_atoms:
        return coords[..., heavy, :]
    raise InputError(what, f"has {coords.shape[-2]} atoms; the molecule has {len(heavy)} heavy atoms "
                           f"({num_atoms} in all)")


def _spyrmsd(reference_coords: np.ndarray, coords: list[np.ndarray], ref_graph: tuple[np.ndarray, np.ndarray],
             graph: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    from spyrmsd import rmsd as spy

    values = spy.symmrmsd(reference_coords, coords, ref_graph[0], graph[0], ref_graph[1], graph[1],
                          center=False, minimize=False, cache=True)
    return np.asarray(values, dtype=float).reshape(len(coords))


def symmetry_rmsd(reference: Chem.Mol | str, poses: Any, reference_coords: Any = None) -> np.ndarray:
    """In-place heavy-atom RMSD (A) of each pose to the reference pose, minimised over the ligand's graph
    automorphisms: (S,) for S poses.

    reference: the ligand (an RDKit molecule, or its molblock); with or without hydrogens.
    poses: (S, N, 3) or (N, 3) coordinates (numpy, lists or torch tensors) in the reference's atom order;
        N = its heavy atoms or all its atoms (hydrogens are then dropped).
    reference_coords: (N, 3) reference pose (e.g. the crystal pose); default: the reference's conformer.
    """
    mol = _as_mol(reference)
    heavy = _heavy_indices(mol)
    if len(heavy) == 0:
        raise InputError(_name(mol, "reference"), "has no heavy atoms")
    if reference_coords is None:
        if mol.GetNumConformers() == 0:
            raise InputError(_name(mol, "reference"), "has no coordinates and none were given")
        reference_coords = mol.GetConformer().GetPositions()
    target, coords = _coordinates(reference_coords), _coordinates(poses)
    if coords.ndim >= 1 and coords.shape[0] == 0:
        return np.zeros(0)
    if coords.ndim == 2:
        coords = coords[None]
    if target.ndim != 2 or target.shape[-1] != 3:
        raise InputError("reference pose", f"expected (N, 3) coordinates, got shape {tuple(target.shape)}")
    if coords.ndim != 3 or coords.shape[-1] != 3:
        raise InputError("poses", f"expected (S, N, 3) coordinates, got shape {tuple(coords.shape)}")
    target = _heavy_rows(target, heavy, mol.GetNumAtoms(), "reference pose")
    coords = _heavy_rows(coords, heavy, mol.GetNumAtoms(), "poses")
    graph = _graph(mol, heavy)
    return _spyrmsd(target, list(coords), graph, graph)


def symmetry_rmsd_of_mols(reference: Chem.Mol, poses: Sequence[Chem.Mol]) -> np.ndarray:
    """In-place heavy-atom RMSD (A) of each posed molecule to `reference`, minimised over graph
    automorphisms: (S,). The poses' atom order may differ from the reference's (atoms are paired by
    graph isomorphism on elements and bonds). Raises InputError when a pose is a different molecule."""
    from spyrmsd.exceptions import NonIsomorphicGraphs

    for mol, what in [(reference, "reference"), *((pose, "pose") for pose in poses)]:
        if mol.GetNumConformers() == 0:
            raise InputError(_name(mol, what), "has no coordinates")
    ref_heavy = _heavy_indices(reference)
    ref_graph = _graph(reference, ref_heavy)
    target = reference.GetConformer().GetPositions()[ref_heavy]
    values: list[np.ndarray] = []
    start = 0
    while start < len(poses):   # consecutive poses with one atom order share one isomorphism search
        heavy = _heavy_indices(poses[start])
        graph = _graph(poses[start], heavy)
        stop = start + 1
        while stop < len(poses) and _same_graph(poses[stop], graph):
            stop += 1
        coords = [pose.GetConformer().GetPositions()[heavy] for pose in poses[start:stop]]
        try:
            values.append(_spyrmsd(target, coords, ref_graph, graph))
        except (NonIsomorphicGraphs, ValueError, AssertionError) as exc:
            raise InputError(_name(reference, "reference"),
                             f"pose and reference are different molecules ({exc})") from None
        start = stop
    return np.concatenate(values) if values else np.zeros(0)


def _same_graph(mol: Chem.Mol, graph: tuple[np.ndarray, np.ndarray]) -> bool:
    other = _graph(mol, _heavy_indices(mol))
    return other[0].shape == graph[0].shape and bool((other[0] == graph[0]).all() and (other[1] == graph[1]).all())
