"""Per-pose physics that Vina's function leaves out, for ranking the minima the default's search returns.

Why: the default's ten poses hold a right one far more often than its energy puts one first, and every Vina-like
function orders them about equally (benchmarks/results/rankers_train_a). What those functions cannot see:

    terms               the five weighted intermolecular terms of docking.physics.interaction_energy and the
                        ligand's internal energy (so a ranker can reweight them)
    strain              MMFF94 energy of the pose relaxed with every heavy atom kept within RESTRAINT_A of its place
                        (hydrogens free) minus the energy after relaxing every atom from there, capped at
                        STRAIN_CAP: a docked conformer held in a strained torsion or an intramolecular clash (the
                        restraint lets bond lengths and angles settle, so their small errors do not count)
    buried_unsatisfied  ligand N/O donors or acceptors with at least BURIED_NEIGHBOURS receptor heavy atoms within
                        BURIED_A and no complementary receptor atom within HBOND_A: polar groups desolvated
                        without a hydrogen bond, which Vina does not penalise
    salt_bridges        ligand atoms of an ionisable group with an opposite receptor charge within CHARGE_A
    like_charges        the same with a like receptor charge
    exposed_share       ligand heavy atoms with no receptor heavy atom within BURIED_A

All are functions of interatomic distances and of the ligand's own geometry, so none changes when the complex is
rotated or moved. Ionisable groups are read from the ligand's graph (SMARTS below) whatever protonation the file
shows; receptor charges from residue and atom names (Asp, Glu, Lys, Arg) and metal ions.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from data_prep.protein import HeavyAtoms
from docking.physics.interaction_energy import (
    CUTOFF_A,
    TERMS,
    InteractionEnergy,
    element_symbol,
    ligand_atoms,
    ligand_internal_pairs,
    receptor_atoms,
)
from docking.physics.vina_typing import METALS

log = logging.getLogger(__name__)

FEATURES = TERMS + ("internal", "strain", "buried_unsatisfied", "salt_bridges", "like_charges", "exposed_share")
STRAIN_CAP = 30.0
RESTRAINT_A = 0.3        # heavy atoms move freely this far from the pose, then a harmonic wall
RESTRAINT_K = 100.0      # kcal/mol/A^2
BURIED_A = 4.5
BURIED_NEIGHBOURS = 8
HBOND_A = 3.5
CHARGE_A = 4.0

# ionisable groups of the ligand, whatever protonation state the file shows
ANIONIC_SMARTS = (
    "[CX3](=O)[OX1H0-,OX2H1]",                 # carboxylic acid / carboxylate
    "[PX4](=O)[OX1H0-,OX2H1]",                 # phosphate, phosphonate
    "[SX4](=O)(=O)[OX1H0-,OX2H1]",             # sulfonate, sulfate
    "c1nn[nH]n1", "c1nnn[n-]1",                # tetrazole
)
CATIONIC_SMARTS = (
    "[NX4+]",                                                                   # ammonium
    "[NX3;H2,H1,H0;!$(N[!#6;!#1]);!$(N[#6]=[!#6]);!$(Na);!$(NC=C);!$(NC#*)]",   # aliphatic amine
    "[NX3;!$(Na)][CX3]=[NX2;!$(N[!#6;!#1])]",                                  # amidine / guanidine N-C=N
    "[NX2;!$(N[!#6;!#1])]=[CX3][NX3;!$(Na)]",
    "[n+;H1,H2]", "[N+;!$(N=O);!$(N-[O-])]",                                    # charged imine / pyridinium
)
RECEPTOR_ANIONS = {("ASP", "OD1"), ("ASP", "OD2"), ("GLU", "OE1"), ("GLU", "OE2")}
RECEPTOR_CATIONS = {("LYS", "NZ"), ("ARG", "NE"), ("ARG", "NH1"), ("ARG", "NH2")}


def ligand_charges(mol: Chem.Mol) -> np.ndarray:
    """(N,) +1 / -1 / 0 per heavy atom: the atoms of the ligand's ionisable groups (SMARTS above) or atoms with a
    formal charge. `mol` must carry bond orders (a sanitised copy is matched)."""
    charges = np.zeros(mol.GetNumAtoms(), dtype=np.int8)
    probe = Chem.Mol(mol)
    try:
        Chem.SanitizeMol(probe)
    except (Chem.rdchem.MolSanitizeException, ValueError, RuntimeError):
        log.debug("ligand not sanitisable; ionisable groups from formal charges only")
        probe = None
    for sign, patterns in ((-1, ANIONIC_SMARTS), (1, CATIONIC_SMARTS)):
        for smarts in patterns if probe is not None else ():
            pattern = Chem.MolFromSmarts(smarts)
            for match in probe.GetSubstructMatches(pattern):
                for index in match:
                    element = mol.GetAtomWithIdx(index).GetSymbol()
                    if element in ("O", "N"):
                        charges[index] = sign
    for atom in mol.GetAtoms():
        if atom.GetFormalCharge() and atom.GetSymbol() in ("O", "N", "S"):
            neighbours_charged = any(n.GetFormalCharge() * atom.GetFormalCharge() < 0 for n in atom.GetNeighbors())
            if not neighbours_charged:            # nitro and N-oxides are neutral groups
                charges[atom.GetIdx()] = int(np.sign(atom.GetFormalCharge()))
    return charges


class LigandStrain:
    """MMFF94 (UFF where MMFF has no parameters) strain of a ligand's poses: energy with only hydrogens relaxed
    minus energy after a local relaxation of every atom. Zero for every pose where neither force field applies."""

    def __init__(self, mol: Chem.Mol):
        self.mol = Chem.Mol(mol)
        self.kind = None
        try:
            Chem.SanitizeMol(self.mol)
            with_h = Chem.AddHs(self.mol, addCoords=self.mol.GetNumConformers() > 0)
        except (Chem.rdchem.MolSanitizeException, ValueError, RuntimeError) as exc:
            log.warning("ligand strain left out: the ligand cannot be sanitised (%s)", exc)
            return
        if AllChem.MMFFHasAllMoleculeParams(with_h):
            self.kind = "mmff"
        elif AllChem.UFFHasAllMoleculeParams(with_h):
            self.kind = "uff"
        else:
            log.warning("ligand strain left out: neither MMFF94 nor UFF has parameters for the ligand")

    def _force_field(self, mol: Chem.Mol):
        if self.kind == "mmff":
            return AllChem.MMFFGetMoleculeForceField(mol, AllChem.MMFFGetMoleculeProperties(mol))
        return AllChem.UFFGetMoleculeForceField(mol)

    def _restrain(self, force_field, index: int) -> None:
        if self.kind == "mmff":
            force_field.MMFFAddPositionConstraint(index, RESTRAINT_A, RESTRAINT_K)
        else:
            force_field.UFFAddPositionConstraint(index, RESTRAINT_A, RESTRAINT_K)

    def __call__(self, coords: np.ndarray) -> np.ndarray:
        """(P,) strain of poses (P, N, 3) of the heavy atoms, kcal/mol, at most STRAIN_CAP."""
        out = np.zeros(len(coords))
        if self.kind is None:
            return out
        heavy = self.mol.GetNumAtoms()
        for k, xyz in enumerate(np.asarray(coords, dtype=float)):
            mol = Chem.Mol(self.mol)
            mol.RemoveAllConformers()
            conformer = Chem.Conformer(heavy)
            for i, point in enumerate(xyz):
                conformer.SetAtomPosition(i, point.tolist())
            mol.AddConformer(conformer, assignId=True)
            mol = Chem.AddHs(mol, addCoords=True)
            posed = self._force_field(mol)
            for i in range(heavy):          # bond lengths and angles may settle; torsions and contacts stay
                self._restrain(posed, i)
            posed.Minimize(maxIts=1000)
            e_posed = posed.CalcEnergy()
            relaxed = self._force_field(mol)
            relaxed.Minimize(maxIts=2000)
            out[k] = min(STRAIN_CAP, max(0.0, e_posed - relaxed.CalcEnergy()))
        return out


class PhysicsFeaturizer:
    """The FEATURES of many poses (P, N, 3) of one ligand in one receptor: receptor typed once."""

    def __init__(self, mol: Chem.Mol, protein: HeavyAtoms, center: torch.Tensor, radius: float):
        """`mol`: the ligand with bond orders, heavy atoms only, in the poses' atom order; receptor atoms within
        `radius` of `center` are seen (radius >= the poses' extent + CUTOFF_A makes every feature exact)."""
        center = torch.as_tensor(center, dtype=torch.float64).reshape(3)
        receptor = receptor_atoms(protein, center, radius)
        within = (torch.as_tensor(protein.pos, dtype=torch.float64) - center).norm(dim=1) <= radius
        keys = [(r, a) for r, a, keep in zip(protein.residue_names, protein.atom_names, within.tolist()) if keep]
        elements = [element_symbol(e) for e, keep in zip(protein.elements, within.tolist()) if keep]
        assert len(keys) == len(receptor.pos)
        ligand = ligand_atoms(mol)
        self.energy = InteractionEnergy(ligand, receptor, ligand_internal_pairs(mol))
        self.receptor_pos = receptor.pos.double()
        self.receptor_donor = receptor.donor.bool()
        self.receptor_acceptor = receptor.acceptor.bool()
        self.receptor_charge = torch.tensor([-1 if key in RECEPTOR_ANIONS else
                                             1 if key in RECEPTOR_CATIONS or element in METALS else 0
                                             for key, element in zip(keys, elements)], dtype=torch.int8)
        polar = torch.tensor([a.GetSymbol() in ("N", "O") for a in mol.GetAtoms()])
        self.ligand_donor = ligand.donor.bool() & polar
        self.ligand_acceptor = ligand.acceptor.bool() & polar
        self.ligand_charge = torch.as_tensor(ligand_charges(mol))
        self.strain = LigandStrain(mol)

    @classmethod
    def around(cls, mol: Chem.Mol, protein: HeavyAtoms, poses: np.ndarray) -> "PhysicsFeaturizer":
        """A featurizer that sees every receptor atom within the cutoff of any atom of `poses` (P, N, 3)."""
        flat = torch.as_tensor(np.asarray(poses, dtype=np.float64)).reshape(-1, 3)
        center = flat.mean(0)
        return cls(mol, protein, center, float((flat - center).norm(dim=1).max()) + CUTOFF_A + 0.5)

    @torch.no_grad()
    def __call__(self, poses: np.ndarray) -> np.ndarray:
        """(P, len(FEATURES)) float64 features of poses (P, N, 3)."""
        pos = torch.as_tensor(np.asarray(poses, dtype=np.float64)).reshape(-1, len(self.ligand_charge), 3)
        terms = self.energy.intermolecular_terms(pos.float()).double()                 # (P, 5)
        internal = self.energy.internal(pos.float()).double()[:, None]
        distance = torch.cdist(pos, self.receptor_pos[None].expand(pos.shape[0], -1, -1))   # (P, N, M)
        near = distance < BURIED_A
        buried = near.sum(2) >= BURIED_NEIGHBOURS
        hbond = distance < HBOND_A
        satisfied = ((hbond & self.receptor_acceptor[None, None]).any(2) & self.ligand_donor[None]) | \
                    ((hbond & self.receptor_donor[None, None]).any(2) & self.ligand_acceptor[None])
        unsatisfied = (buried & (self.ligand_donor | self.ligand_acceptor)[None] & ~satisfied).sum(1)
        product = self.ligand_charge[:, None].int() * self.receptor_charge[None, :].int()     # (N, M)
        close = distance < CHARGE_A
        salt = (close & (product < 0)[None]).any(2).sum(1)
        like = (close & (product > 0)[None]).any(2).sum(1)
        exposed = (~near.any(2)).double().mean(1)
        strain = torch.as_tensor(self.strain(pos.numpy()))
        extra = torch.stack([strain, unsatisfied.double(), salt.double(), like.double(), exposed], dim=1)
        return torch.cat([terms, internal, extra], dim=1).numpy()


def physics_features(mol: Chem.Mol, poses: np.ndarray, protein: HeavyAtoms) -> np.ndarray:
    """(P, len(FEATURES)) features of the poses (P, N, 3) of `mol` (heavy atoms, the poses' atom order)."""
    return PhysicsFeaturizer.around(mol, protein, poses)(poses)


def standardised(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Features on the training poses' scale (a feature constant in training keeps scale 1)."""
    return (features - mean) / np.where(std > 0, std, 1.0)

