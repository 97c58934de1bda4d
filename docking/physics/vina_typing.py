"""AutoDock Vina's atom typing (X-Score types) for the interaction energy: which heavy atoms are hydrophobic,
hydrogen-bond donors and acceptors.

Why its own module: "Vina's energy" is only Vina's if the atoms are typed as Vina types the molecules meeko
prepares for it, and that typing needs chemistry (hydrogens, aromaticity, charges) that the energy itself does
not. The rules, as Vina applies them (`model::assign_types`, `atom_constants.h`):

- carbon is hydrophobic (C_H) unless bonded to a heteroatom, any heavy atom that is not carbon (N, O, S, P,
  halogens, metals), which makes it C_P;
- F, Cl, Br, I are hydrophobic; S and P are neither hydrophobic nor polar (S_P, P_P);
- N and O are donors when they carry a hydrogen; metals are donors (Met_D);
- O is always an acceptor (AutoDock type OA); N is an acceptor when its AutoDock type is NA, which meeko
  gives every N except those bonded to an aromatic atom or an sp2 carbon while having three connections
  (pyrrole, aniline, amide), triazene N and positively charged N (`MEEKO_PLAIN_N`, meeko's `ad4_types.json`).

Ligands are typed from their RDKit molecule with hydrogens added, exactly as meeko sees them. Receptor
residues: standard amino acids from their chemistry at pH 7 (only histidine's unprotonated ring N accepts;
backbone, Asn/Gln amide, Lys, Arg and Trp N are plain donors; Ser/Thr/Tyr O donate; Cys SG is neither), with the
histidine tautomer read from the file's hydrogens where it has them, from the residue name HID/HIE/HIP
otherwise, and both ring N as donor and acceptor when nothing says which (Vina's own preparation would guess
one). Cofactors and other groups are typed from their bonds (`group_types`): from the file's hydrogens where
present, otherwise from bond lengths and rings of the heavy-atom graph (documented there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem

HALOGENS = {"F", "Cl", "Br", "I"}
METALS = {"Zn", "Mg", "Mn", "Ca", "Fe", "Cu", "Co", "Ni", "Na", "K", "Cd", "Hg"}
# meeko's patterns that retype N from NA (acceptor) to N (not an acceptor); the first atom of each match
MEEKO_PLAIN_N = [Chem.MolFromSmarts(s) for s in ("[#7X3v3][a]", "[#7X3v3][#6X3v4]", "[#7X3v3][NX2]=[*]", "[#7+1]")]

AMINO_ACIDS = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
               "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "HID", "HIE", "HIP", "CYX", "MSE"}
# side-chain and terminal atoms that carry a hydrogen at pH 7 (backbone N: every residue but proline)
_DONORS = {("SER", "OG"), ("THR", "OG1"), ("TYR", "OH"), ("ASN", "ND2"), ("GLN", "NE2"), ("LYS", "NZ"),
           ("ARG", "NE"), ("ARG", "NH1"), ("ARG", "NH2"), ("TRP", "NE1")}
_HISTIDINE_H = {"HID": {"ND1"}, "HIE": {"NE2"}, "HIP": {"ND1", "NE2"}}


@dataclass(frozen=True)
class AtomTypes:
    """Per heavy atom, in the molecule's order."""

    hydrophobic: list[bool]
    donor: list[bool]
    acceptor: list[bool]


def element_types(element: str, heavy_neighbours: list[str], has_h: bool, acceptor_n: bool) -> tuple[bool, bool, bool]:
    """(hydrophobic, donor, acceptor) of one heavy atom by Vina's rules; `acceptor_n`: an N typed NA."""
    if element == "C":
        return not any(n != "C" for n in heavy_neighbours), False, False
    if element in HALOGENS:
        return True, False, False
    if element in METALS:
        return False, True, False
    if element == "O":
        return False, has_h, True
    if element == "N":
        return False, has_h, acceptor_n
    return False, False, False


def ligand_types(mol: Chem.Mol) -> AtomTypes:
    """Vina's types of a heavy-atom RDKit molecule's atoms (hydrogens added as meeko adds them)."""
    with_h = Chem.AddHs(mol)
    plain_n = {match[0] for pattern in MEEKO_PLAIN_N for match in with_h.GetSubstructMatches(pattern)}
    types = []
    for atom in mol.GetAtoms():
        heavy = [n.GetSymbol() for n in atom.GetNeighbors() if n.GetAtomicNum() > 1]
        types.append(element_types(atom.GetSymbol(), heavy, atom.GetTotalNumHs() > 0,
                                   atom.GetSymbol() == "N" and atom.GetIdx() not in plain_n))
    return AtomTypes(*(list(column) for column in zip(*types))) if types else AtomTypes([], [], [])


def amino_acid_types(residue: str, name: str, element: str, heavy_neighbours: list[str],
                     hydrogens: int | None) -> tuple[bool, bool, bool]:
    """Types of a standard residue's atom; `hydrogens`: the file's count of H on it, None if the file has none."""
    histidine_ring_n = residue in ("HIS", "HID", "HIE", "HIP") and name in ("ND1", "NE2")
    if histidine_ring_n:
        if hydrogens is not None:
            has_h = hydrogens > 0
        elif residue in _HISTIDINE_H:
            has_h = name in _HISTIDINE_H[residue]
        else:   # tautomer unknown: either ring N may give or take the hydrogen bond
            return False, True, True
        return False, has_h, not has_h
    if element == "N":   # backbone, amide, ammonium, guanidinium, indole N: donors when protonated, never NA
        has_h = hydrogens > 0 if hydrogens is not None else (name == "N" and residue != "PRO") or (residue, name) in _DONORS
        return False, has_h, False
    has_h = hydrogens > 0 if hydrogens is not None else (residue, name) in _DONORS
    return element_types(element, heavy_neighbours, has_h, False)


def group_types(elements: list[str], pos: np.ndarray, bonds: list[tuple[int, int]],
                hydrogens: list[int] | None) -> AtomTypes:
    """Types of the atoms of non-standard groups (cofactors, modified residues, bound ligands), from their bonds.

    With the file's hydrogens (`hydrogens`, per atom) the group becomes an RDKit molecule with those hydrogens
    and is typed as a ligand would be after meeko, an sp2 or aromatic neighbour recognised by its three
    connections.
    Without them the hydrogens are read from the heavy-atom graph: O bonded only to P or S (phosphate, sulfate)
    or by a bond shorter than 1.30 A (carbonyl, carboxylate) carries none, other singly bonded O do (hydroxyl);
    N with three heavy neighbours carries none and does not accept (amide, aromatic N9, tertiary), N with one
    carries hydrogens unless it is a nitrile (< 1.20 A); N with two heavy neighbours in a ring accepts
    (pyridine- and imidazole-type N of adenine, flavin, nicotinamide), outside a ring it is an amide NH when
    bonded to a carbonyl carbon and an imine acceptor otherwise."""
    mol = Chem.RWMol()
    for element in elements:
        atom = Chem.Atom(element)
        atom.SetNoImplicit(True)
        mol.AddAtom(atom)
    for i, j in bonds:
        mol.AddBond(int(i), int(j), Chem.BondType.SINGLE)
    Chem.FastFindRings(mol)
    ring = mol.GetRingInfo()
    neighbours = [[n.GetIdx() for n in mol.GetAtomWithIdx(k).GetNeighbors()] for k in range(len(elements))]
    types = []
    for k, element in enumerate(elements):
        near = [elements[m] for m in neighbours[k]]
        if hydrogens is not None:
            has_h = hydrogens[k] > 0
            connections = len(near) + hydrogens[k]
            sp2_or_aromatic = any(elements[m] in ("C", "N") and len(neighbours[m]) + hydrogens[m] == 3
                                  for m in neighbours[k])
            acceptor_n = not (connections >= 4 or (connections == 3 and sp2_or_aromatic))
        else:
            has_h, acceptor_n = _hydrogen_from_graph(k, elements, pos, neighbours, ring)
        types.append(element_types(element, near, has_h, element == "N" and acceptor_n))
    return AtomTypes(*(list(column) for column in zip(*types))) if types else AtomTypes([], [], [])


def _hydrogen_from_graph(k: int, elements: list[str], pos: np.ndarray, neighbours: list[list[int]],
                         ring) -> tuple[bool, bool]:
    """(carries a hydrogen, N typed NA) read from bond lengths and rings, for files without hydrogens."""
    element, near = elements[k], neighbours[k]
    length = [float(np.linalg.norm(pos[m] - pos[k])) for m in near]
    if element == "O":
        if not near:
            return True, False
        if all(elements[m] in ("P", "S") for m in near) or len(near) > 1:
            return False, False
        return length[0] >= 1.30, False
    if element != "N":
        return False, False
    if len(near) >= 3:
        return False, False
    if len(near) == 1:
        nitrile = length[0] < 1.20
        return not nitrile, nitrile
    if len(near) == 2 and ring.NumAtomRings(k) > 0:
        return False, True
    if len(near) == 2:
        amide = any(elements[m] == "C" and any(elements[o] == "O" and np.linalg.norm(pos[o] - pos[m]) < 1.30
                                               for o in neighbours[m]) for m in near)
        return amide, not amide
    return True, False
