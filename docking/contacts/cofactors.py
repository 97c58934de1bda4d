"""Cofactors and other heterogens of the receptor as ProLIF needs them: bond orders, charges and hydrogens.

OpenMM and PDBFixer have no templates for heterogens (NADPH, FAD, ATP, sulfate...), and PDBFixer would fetch
one from the PDB's Chemical Component Dictionary over the network, which `disco dock` must not need. So a
heterogen near the poses is built with RDKit, offline, from the file's heavy atoms:

1. connectivity from interatomic distances (`rdDetermineBonds.DetermineConnectivity`, covalent radii);
2. bond orders and formal charges from a template of the residue name, copied along one match of the
   template's heavy-atom graph onto the file's (the graphs must be the same, atom for atom and bond for bond,
   so an incomplete or misnamed group is left out rather than guessed). The templates (`HETEROGEN_TEMPLATES`)
   are common cofactors, nucleotides, co-substrates and crystallisation additives, the Chemical Component
   Dictionary's molecules in their ionisation state at pH 7.4 (phosphates and sulfate fully deprotonated,
   carboxylates deprotonated, the amine of SAM/SAH protonated, NAD+/NADP+ with their pyridinium cation);
3. hydrogens from RDKit (`Chem.AddHs(addCoords=True)`), on the template's ionisation state. Hydrogens the file
   has on a heterogen are dropped first (their names and count would have to match the template's state).

A heterogen without a template, or whose atoms do not match it, is left out of the contacts (named in one INFO
log line per protonated pocket); so are waters (as before). A heterogen with the pose's heavy-atom formula is
the docked ligand's own copy: `docking.contacts.profiler` reports no contact with it. Monatomic metal ions do
not come here: OpenMM keeps them beside the protein (`docking.contacts.receptor.METAL_ELEMENTS`).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

WATER_RESIDUES = frozenset({"HOH", "WAT", "DOD", "H2O", "SPC", "TIP", "TIP3", "TIP4", "SOL"})

_ADENOSINE = "n8cnc9c(N)ncnc98"   # adenine, bonded at N9 (ring labels 8 and 9: free in every template)
# residue name -> SMILES of its heavy atoms at pH 7.4 (stereo left out: it plays no part in the match)
HETEROGEN_TEMPLATES: dict[str, str] = {
    # nicotinamide dinucleotides: oxidised (pyridinium) and reduced (1,4-dihydro)
    "NAD": "NC(=O)c1ccc[n+](c1)C1OC(COP(=O)([O-])OP(=O)([O-])OCC2OC(" + _ADENOSINE + ")C(O)C2O)C(O)C1O",
    "NAI": "NC(=O)C1=CN(C=CC1)C1OC(COP(=O)([O-])OP(=O)([O-])OCC2OC(" + _ADENOSINE + ")C(O)C2O)C(O)C1O",
    "NAP": "NC(=O)c1ccc[n+](c1)C1OC(COP(=O)([O-])OP(=O)([O-])OCC2OC(" + _ADENOSINE
           + ")C(OP(=O)([O-])[O-])C2O)C(O)C1O",
    "NDP": "NC(=O)C1=CN(C=CC1)C1OC(COP(=O)([O-])OP(=O)([O-])OCC2OC(" + _ADENOSINE
           + ")C(OP(=O)([O-])[O-])C2O)C(O)C1O",
    # flavins (oxidised)
    "FMN": "Cc1cc2nc3c(=O)[nH]c(=O)nc-3n(CC(O)C(O)C(O)COP(=O)([O-])[O-])c2cc1C",
    "FAD": "Cc1cc2nc3c(=O)[nH]c(=O)nc-3n(CC(O)C(O)C(O)COP(=O)([O-])OP(=O)([O-])OCC3OC(" + _ADENOSINE
           + ")C(O)C3O)c2cc1C",
    # nucleotides
    "AMP": "C(C1OC(" + _ADENOSINE + ")C(O)C1O)OP(=O)([O-])[O-]",
    "ADP": "C(C1OC(" + _ADENOSINE + ")C(O)C1O)OP(=O)([O-])OP(=O)([O-])[O-]",
    "ATP": "C(C1OC(" + _ADENOSINE + ")C(O)C1O)OP(=O)([O-])OP(=O)([O-])OP(=O)([O-])[O-]",
    "ANP": "C(C1OC(" + _ADENOSINE + ")C(O)C1O)OP(=O)([O-])OP(=O)([O-])NP(=O)([O-])[O-]",
    "GDP": "C(C1OC(n2cnc3c2nc(N)[nH]c3=O)C(O)C1O)OP(=O)([O-])OP(=O)([O-])[O-]",
    "GTP": "C(C1OC(n2cnc3c2nc(N)[nH]c3=O)C(O)C1O)OP(=O)([O-])OP(=O)([O-])OP(=O)([O-])[O-]",
    # methyl donors
    "SAM": "[NH3+]C(CC[S+](C)CC1OC(" + _ADENOSINE + ")C(O)C1O)C(=O)[O-]",
    "SAH": "[NH3+]C(CCSCC1OC(" + _ADENOSINE + ")C(O)C1O)C(=O)[O-]",
    # pyridoxal phosphate (free aldehyde form)
    "PLP": "Cc1ncc(COP(=O)([O-])[O-])c(C=O)c1O",
    # prenyl diphosphates (farnesyltransferase's co-substrate) and pyrophosphate
    "FPP": "CC(C)=CCCC(C)=CCCC(C)=CCOP(=O)([O-])OP(=O)([O-])[O-]",
    "POP": "[O-]P(=O)([O-])OP(=O)([O-])[O-]",
    # ions and additives that crystal structures keep in pockets
    "SO4": "[O-]S(=O)(=O)[O-]",
    "PO4": "[O-]P(=O)([O-])[O-]",
    "GOL": "OCC(O)CO",
    "EDO": "OCCO",
    "ACT": "CC(=O)[O-]",
}


@dataclass(frozen=True)
class Heterogen:
    """One heterogen residue of the receptor file as read (heavy atoms only): its PDB identity and atoms."""

    name: str                      # residue name, "NDP"
    chain: str
    number: str                    # residue number as the file writes it (an insertion code not included)
    insertion_code: str
    atom_names: tuple[str, ...]
    elements: tuple[str, ...]      # element symbols ("C", "O", "P")
    xyz: np.ndarray                # (n, 3) A

    @property
    def label(self) -> str:
        return f"{self.name}{self.number}{self.insertion_code}" + (f".{self.chain}" if self.chain else "")


def heavy_formula(elements) -> tuple[tuple[str, int], ...]:
    """The heavy-atom formula of a list of element symbols, as a sorted tuple (the identity of a ligand copy)."""
    return tuple(sorted(Counter(e.capitalize() for e in elements if e.upper() not in ("H", "D")).items()))


def heterogen_molecule(group: Heterogen):
    """The heterogen as an RDKit molecule with bond orders, formal charges and explicit hydrogens (coordinates
    from the file's heavy atoms; PDB residue info on every atom, hydrogens included), or None when it has no
    template or the template does not match its atoms (module docstring)."""
    from rdkit import Chem
    from rdkit.Chem import rdDetermineBonds

    smiles = HETEROGEN_TEMPLATES.get(group.name)
    if smiles is None:
        return None
    template = Chem.MolFromSmiles(smiles)
    Chem.Kekulize(template, clearAromaticFlags=True)
    editable = Chem.RWMol()
    conformer = Chem.Conformer(len(group.atom_names))
    for i, (name, element, xyz) in enumerate(zip(group.atom_names, group.elements, group.xyz)):
        atom = Chem.Atom(element.capitalize())
        info = Chem.AtomPDBResidueInfo(f"{name:<4}" if len(name) == 4 else f" {name:<3}", residueName=group.name,
                                       residueNumber=int(group.number), chainId=group.chain,
                                       insertionCode=group.insertion_code or " ", isHeteroAtom=True)
        info.SetSerialNumber(i + 1)
        atom.SetMonomerInfo(info)
        atom.SetNoImplicit(True)
        editable.AddAtom(atom)
        conformer.SetAtomPosition(i, [float(v) for v in xyz])
    mol = editable.GetMol()
    mol.AddConformer(conformer, assignId=True)
    try:
        rdDetermineBonds.DetermineConnectivity(mol)
        match = _graph_match(template, mol)
        if match is None:
            logger.info("%s: its atoms do not match the %s template (missing atoms or unusual bonds)",
                        group.label, group.name)
            return None
        editable = Chem.RWMol(mol)
        for bond in template.GetBonds():   # Kekule bond orders, charges and hydrogens of one consistent match
            editable.GetBondBetweenAtoms(match[bond.GetBeginAtomIdx()], match[bond.GetEndAtomIdx()]) \
                .SetBondType(bond.GetBondType())
        for source in template.GetAtoms():
            atom = editable.GetAtomWithIdx(match[source.GetIdx()])
            atom.SetFormalCharge(source.GetFormalCharge())
            atom.SetNumExplicitHs(source.GetTotalNumHs())
            atom.SetNoImplicit(True)
        mol = editable.GetMol()
        Chem.SanitizeMol(mol)
        return Chem.AddHs(mol, addCoords=True, addResidueInfo=True)
    except (ValueError, RuntimeError, Chem.rdchem.MolSanitizeException) as exc:
        logger.info("%s: its template does not match its atoms (%s)", group.label, exc)
        return None


def _graph_match(template, mol) -> tuple[int, ...] | None:
    """The atoms of `mol` (connectivity only, all bonds single) matched to the template's, element for element
    and bond for bond, with no bond left over on either side; None when the graphs differ."""
    from rdkit import Chem

    if mol.GetNumAtoms() != template.GetNumAtoms() or mol.GetNumBonds() != template.GetNumBonds():
        return None
    graph = Chem.RWMol(template)
    for atom in graph.GetAtoms():
        atom.SetFormalCharge(0)
        atom.SetNumExplicitHs(0)
        atom.SetIsAromatic(False)
    for bond in graph.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
    match = mol.GetSubstructMatch(graph.GetMol())
    return match if len(match) == template.GetNumAtoms() else None
