"""Real ligands for the pose tests: heavy-atom coordinates, rotatable bonds from RDKit's standard
rotatable-bond SMARTS, and for each bond the atoms on its v side (the side that moves)."""

from __future__ import annotations

import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Chem.Lipinski import RotatableBondSmarts

from tests.data_paths import complex_folder


def _side(mol: Chem.Mol, start: int, blocked: int) -> set[int]:
    seen, stack = {start}, [start]
    while stack:
        for nb in mol.GetAtomWithIdx(stack.pop()).GetNeighbors():
            j = nb.GetIdx()
            if j != blocked and j not in seen:
                seen.add(j)
                stack.append(j)
    return seen


def torsion_topology(mol: Chem.Mol) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rot_bonds (R, 2), rot_masks (R, N), quads (R, 4) = (a, u, v, b) measuring each torsion)."""
    bonds, masks, quads = [], [], []
    for u, v in mol.GetSubstructMatches(RotatableBondSmarts):
        side = _side(mol, v, u)
        mask = torch.zeros(mol.GetNumAtoms(), dtype=torch.bool)
        mask[list(side)] = True
        a = min(nb.GetIdx() for nb in mol.GetAtomWithIdx(u).GetNeighbors() if nb.GetIdx() != v)
        b = min(nb.GetIdx() for nb in mol.GetAtomWithIdx(v).GetNeighbors() if nb.GetIdx() != u)
        bonds.append((u, v))
        masks.append(mask)
        quads.append((a, u, v, b))
    return torch.tensor(bonds).reshape(-1, 2), torch.stack(masks), torch.tensor(quads).reshape(-1, 4)


def ligand_from_smiles(smiles: str, seed: int = 7) -> tuple[Chem.Mol, torch.Tensor]:
    """Heavy-atom molecule and its ETKDGv3 conformer (float64)."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    assert AllChem.EmbedMolecule(mol, params) == 0
    mol = Chem.RemoveHs(mol)
    return mol, torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)


def crystal_ligand(name: str) -> tuple[Chem.Mol, torch.Tensor]:
    """A crystal ligand (vendored in tests/data first); a missing or unreadable file fails the test."""
    path = complex_folder(name) / f"{name}_ligand.sdf"
    mol = Chem.MolFromMolFile(str(path), removeHs=True)
    assert mol is not None, f"RDKit cannot read {path}"
    return mol, torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)


def bond_and_angle_triples(mol: Chem.Mol) -> tuple[torch.Tensor, torch.Tensor]:
    """All bonded pairs (B, 2) and bond-angle triples (A, 3) (i-j-k with j the vertex)."""
    pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    triples = []
    for atom in mol.GetAtoms():
        nbs = [nb.GetIdx() for nb in atom.GetNeighbors()]
        triples += [(nbs[i], atom.GetIdx(), nbs[j]) for i in range(len(nbs)) for j in range(i + 1, len(nbs))]
    return torch.tensor(pairs), torch.tensor(triples)


def bond_lengths_and_angles(pos: torch.Tensor, pairs: torch.Tensor,
                            triples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = (pos[..., pairs[:, 0], :] - pos[..., pairs[:, 1], :]).norm(dim=-1)
    e1 = pos[..., triples[:, 0], :] - pos[..., triples[:, 1], :]
    e2 = pos[..., triples[:, 2], :] - pos[..., triples[:, 1], :]
    cos = (e1 * e2).sum(-1) / (e1.norm(dim=-1) * e2.norm(dim=-1))
    return lengths, torch.arccos(cos.clamp(-1, 1))
