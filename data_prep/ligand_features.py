"""Categorical atom and bond features of a heavy-atom RDKit molecule.

Every feature is an index into a fixed vocabulary whose last entry is "other", so an unusual atom
(a metal, charge -4) still gets a valid index instead of an error. The vocab sizes are exported so a
model can build one embedding table per column.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import Chem

ELEMENTS = ["C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se", "As", "Fe", "Zn", "Cu", "Co",
            "Mg", "Mn", "Ca", "Na", "K", "Hg", "Pt", "Ru", "Ir", "Rh", "Re", "V", "Ni", "Al", "Ga", "Te"]
CHIRALITY = [Chem.ChiralType.CHI_UNSPECIFIED, Chem.ChiralType.CHI_TETRAHEDRAL_CW,
             Chem.ChiralType.CHI_TETRAHEDRAL_CCW]
DEGREES = [0, 1, 2, 3, 4, 5, 6]
FORMAL_CHARGES = [-2, -1, 0, 1, 2, 3]
IMPLICIT_VALENCES = [0, 1, 2, 3, 4]
NUM_HYDROGENS = [0, 1, 2, 3, 4]
HYBRIDISATIONS = [Chem.HybridizationType.S, Chem.HybridizationType.SP, Chem.HybridizationType.SP2,
                  Chem.HybridizationType.SP3, Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2]
RING_SIZES = [0, 3, 4, 5, 6, 7, 8]  # smallest ring containing the atom; 0 = not in a ring
NUM_RINGS = [0, 1, 2, 3]

ATOM_FEATURE_NAMES = ["element", "chirality", "degree", "formal_charge", "implicit_valence", "num_hs",
                      "hybridisation", "aromatic", "in_ring", "ring_size", "num_rings"]
# +1 on every categorical vocab for its "other" slot; booleans have exactly two values.
LIGAND_ATOM_FEATURE_DIMS: list[int] = [len(ELEMENTS) + 1, len(CHIRALITY) + 1, len(DEGREES) + 1,
                                       len(FORMAL_CHARGES) + 1, len(IMPLICIT_VALENCES) + 1, len(NUM_HYDROGENS) + 1,
                                       len(HYBRIDISATIONS) + 1, 2, 2, len(RING_SIZES) + 1, len(NUM_RINGS) + 1]

BOND_TYPES = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]
BOND_STEREO = [Chem.BondStereo.STEREONONE, Chem.BondStereo.STEREOANY, Chem.BondStereo.STEREOZ,
               Chem.BondStereo.STEREOE, Chem.BondStereo.STEREOCIS, Chem.BondStereo.STEREOTRANS]
BOND_FEATURE_NAMES = ["bond_type", "conjugated", "in_ring", "stereo"]
LIGAND_BOND_FEATURE_DIMS: list[int] = [len(BOND_TYPES) + 1, 2, 2, len(BOND_STEREO) + 1]


def _index(vocab: list, value) -> int:
    """Position of `value` in `vocab`, or the trailing "other" slot."""
    try:
        return vocab.index(value)
    except ValueError:
        return len(vocab)


def _implicit_valence(atom: Chem.Atom) -> int:
    try:
        return atom.GetValence(Chem.ValenceType.IMPLICIT)
    except AttributeError:  # older RDKit
        return atom.GetImplicitValence()


def atom_features(mol: Chem.Mol) -> torch.Tensor:
    """(N, len(LIGAND_ATOM_FEATURE_DIMS)) long tensor of categorical atom features."""
    ring_info = mol.GetRingInfo()
    rows = []
    for atom in mol.GetAtoms():
        idx = atom.GetIdx()
        ring_size = 0
        for size in RING_SIZES[1:]:
            if ring_info.IsAtomInRingOfSize(idx, size):
                ring_size = size
                break
        if ring_size == 0 and atom.IsInRing():
            ring_size = -1  # larger than the vocab: "other"
        rows.append([
            _index(ELEMENTS, atom.GetSymbol()),
            _index(CHIRALITY, atom.GetChiralTag()),
            _index(DEGREES, atom.GetDegree()),
            _index(FORMAL_CHARGES, atom.GetFormalCharge()),
            _index(IMPLICIT_VALENCES, _implicit_valence(atom)),
            _index(NUM_HYDROGENS, atom.GetTotalNumHs()),
            _index(HYBRIDISATIONS, atom.GetHybridization()),
            int(atom.GetIsAromatic()),
            int(atom.IsInRing()),
            _index(RING_SIZES, ring_size),
            _index(NUM_RINGS, ring_info.NumAtomRings(idx)),
        ])
    return torch.tensor(rows, dtype=torch.long).reshape(-1, len(LIGAND_ATOM_FEATURE_DIMS))


def bond_graph(mol: Chem.Mol) -> tuple[torch.Tensor, torch.Tensor]:
    """Bond edge_index (2, 2B), both directions, and categorical bond features (2B, F_b)."""
    src, dst, feats = [], [], []
    for bond in mol.GetBonds():
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        row = [_index(BOND_TYPES, bond.GetBondType()), int(bond.GetIsConjugated()), int(bond.IsInRing()),
               _index(BOND_STEREO, bond.GetStereo())]
        src += [u, v]
        dst += [v, u]
        feats += [row, row]
    edge_index = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)
    edge_attr = torch.tensor(feats, dtype=torch.long).reshape(-1, len(LIGAND_BOND_FEATURE_DIMS))
    return edge_index, edge_attr


def check_feature_ranges(features: np.ndarray | torch.Tensor, dims: list[int]) -> bool:
    """True when every column lies in [0, dim): a guard for models' embedding tables."""
    features = torch.as_tensor(features)
    if features.numel() == 0:
        return True
    return bool(((features >= 0) & (features < torch.tensor(dims))).all())
