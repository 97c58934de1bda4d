"""What the learned pose scorer sees of a posed complex: typed ligand-receptor distance counts and the pose's energy
terms, all functions of interatomic distances, so that the score cannot change when the complex is rotated or
moved (tests/docking/test_pose_scorer.py checks it).

    counts    for every ligand heavy atom class a, receptor heavy atom class b and distance bin k:
              log(1 + number of (ligand atom of a, receptor atom of b) pairs with distance in bin k)
    energy    the five intermolecular terms of docking.physics.interaction_energy (weighted sums), their total,
              the ligand's internal energy, each also per heavy atom
    exposure  the share of ligand atoms with no receptor heavy atom within EXPOSED_A
    size      log(heavy atoms), rotatable bonds (the same for all poses of a ligand: they let one model be
              calibrated across ligands of different size)

Atom classes come from element and the energy's own typing (hydrophobic / donor / acceptor), for the ligand and the
receptor alike. An element without a class of its own (B, Si, Se, metals, ...) falls in the documented fallback
class "other". Never the score model's confidence: it is over-confident on the complexes it was trained on.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from rdkit import Chem

from data_prep.protein import HeavyAtoms
from data_prep.torsions import rotatable_bonds
from docking.physics.interaction_energy import (
    CUTOFF_A,
    TERMS,
    InteractionEnergy,
    TypedAtoms,
    element_symbol,
    ligand_atoms,
    ligand_internal_pairs,
    receptor_atoms,
)
from docking.physics.vina_typing import HALOGENS

ATOM_CLASSES = ("C_hydrophobic", "C_polar", "N_donor", "N_acceptor", "N_other", "O_acceptor", "O_donor_acceptor",
                "S_P", "halogen", "other")
DISTANCE_EDGES_A = (0.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, CUTOFF_A)
EXPOSED_A = 4.5
ENERGY_FEATURES = TERMS + ("intermolecular", "internal")
SCALAR_FEATURES = (ENERGY_FEATURES + tuple(f"{name}_per_atom" for name in ENERGY_FEATURES)
                   + ("exposed_share", "log_heavy_atoms", "rotatable_bonds"))
NUM_BINS = len(DISTANCE_EDGES_A) - 1
NUM_FEATURES = len(ATOM_CLASSES) ** 2 * NUM_BINS + len(SCALAR_FEATURES)


def atom_classes(elements: list[str], typed: TypedAtoms) -> torch.Tensor:
    """(M,) index into ATOM_CLASSES of each atom, from its element and its energy typing."""
    out = []
    for element, hydrophobic, donor, acceptor in zip(elements, typed.hydrophobic.tolist(), typed.donor.tolist(),
                                                     typed.acceptor.tolist()):
        if element == "C":
            name = "C_hydrophobic" if hydrophobic else "C_polar"
        elif element == "N":
            name = "N_donor" if donor else "N_acceptor" if acceptor else "N_other"
        elif element == "O":
            name = "O_donor_acceptor" if donor else "O_acceptor"
        elif element in ("S", "P"):
            name = "S_P"
        elif element in HALOGENS:
            name = "halogen"
        else:
            name = "other"
        out.append(ATOM_CLASSES.index(name))
    return torch.tensor(out, dtype=torch.long)


class ComplexFeaturizer:
    """The features of many poses (P, N, 3) of one ligand in one receptor: the receptor typed once."""

    def __init__(self, mol: Chem.Mol, protein: HeavyAtoms, center: torch.Tensor, radius: float):
        """`mol`: the ligand, heavy atoms only, in the poses' atom order; receptor atoms within `radius` of `center`
        are seen (radius >= the poses' extent from the centre + CUTOFF_A makes the features exact)."""
        center = torch.as_tensor(center, dtype=torch.float64).reshape(3)
        receptor = receptor_atoms(protein, center, radius)
        # the same atoms, in the same order, as receptor_atoms keeps (those within `radius` of `center`)
        within = (torch.as_tensor(protein.pos, dtype=torch.float64) - center).norm(dim=1) <= radius
        elements = [element_symbol(e) for e, keep in zip(protein.elements, within.tolist()) if keep]
        assert len(elements) == len(receptor.pos)
        ligand = ligand_atoms(mol)
        self.energy = InteractionEnergy(ligand, receptor, ligand_internal_pairs(mol))
        self.ligand_class = atom_classes([a.GetSymbol() for a in mol.GetAtoms()], ligand)
        self.receptor_class = atom_classes(elements, receptor)
        self.receptor_pos = receptor.pos.float()
        self.size = (math.log(mol.GetNumAtoms()), float(len(rotatable_bonds(mol)[0])))

    @classmethod
    def around(cls, mol: Chem.Mol, protein: HeavyAtoms, poses: torch.Tensor | np.ndarray) -> "ComplexFeaturizer":
        """A featurizer that sees every receptor atom within the cutoff of any atom of `poses` (P, N, 3)."""
        poses = torch.as_tensor(np.asarray(poses, dtype=np.float32))
        center = poses.reshape(-1, 3).mean(0)
        extent = float((poses.reshape(-1, 3) - center).norm(dim=1).max())
        return cls(mol, protein, center, extent + CUTOFF_A + 0.5)

    @torch.no_grad()
    def __call__(self, poses: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(P, NUM_FEATURES) float32 features of poses (P, N, 3)."""
        pos = torch.as_tensor(np.asarray(poses, dtype=np.float32)).reshape(-1, len(self.ligand_class), 3)
        distance = torch.cdist(pos, self.receptor_pos[None].expand(pos.shape[0], -1, -1))     # (P, N, M)
        edges = torch.tensor(DISTANCE_EDGES_A, dtype=distance.dtype)
        bins = torch.bucketize(distance, edges[1:-1], right=True)                              # 0 .. NUM_BINS - 1
        inside = distance < edges[-1]
        classes = len(ATOM_CLASSES)
        pair_class = (self.ligand_class[:, None] * classes + self.receptor_class[None, :]) * NUM_BINS   # (N, M)
        index = (pair_class[None] + bins)[inside]
        pose_of = torch.arange(pos.shape[0])[:, None, None].expand_as(distance)[inside]
        counts = torch.zeros(pos.shape[0], classes * classes * NUM_BINS)
        counts.index_put_((pose_of, index), torch.ones(len(index)), accumulate=True)
        terms = self.energy.intermolecular_terms(pos)                                          # (P, 5)
        energies = torch.cat([terms, terms.sum(1, keepdim=True), self.energy.internal(pos)[:, None]], dim=1)
        atoms = pos.shape[1]
        exposed = (distance.min(dim=2).values > EXPOSED_A).float().mean(1) if distance.shape[2] else \
            torch.ones(pos.shape[0])
        scalars = torch.cat([energies, energies / atoms, exposed[:, None],
                             torch.tensor(self.size, dtype=torch.float32).expand(pos.shape[0], 2)], dim=1)
        return torch.cat([torch.log1p(counts), scalars.float()], dim=1)


def pose_features(mol: Chem.Mol, poses: torch.Tensor | np.ndarray, protein: HeavyAtoms) -> torch.Tensor:
    """(P, NUM_FEATURES) features of the poses (P, N, 3) of `mol` (heavy atoms, the poses' atom order) in `protein`."""
    return ComplexFeaturizer.around(mol, protein, poses)(poses)
