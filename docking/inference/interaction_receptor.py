"""The receptor as ProLIF needs it: every hydrogen explicit, bond orders and formal charges set.

ProLIF finds hydrogen bonds from donor-H...acceptor geometry and salt bridges from formal charges, so a
heavy-atom PDB (what most users have, and what PDBbind ships without hydrogens) must be protonated first.
The well-kept route is OpenMM's: PDBFixer turns modified residues into their standard parent (a
phosphotyrosine is read as a tyrosine) and completes residues with missing heavy atoms, and
`Modeller.addHydrogens` protonates at pH 7.4 from OpenMM's residue templates (Asp/Glu deprotonated,
Lys/Arg protonated, histidine tautomers from their hydrogen-bond partners; hydrogens already in the file
decide the variant of their residue). MDAnalysis' RDKit converter then infers bond orders and charges from
the now complete hydrogen set, with the bonds taken from OpenMM's templates rather than guessed from
distances (`prolif.Molecule.from_mda`, the path ProLIF's documentation recommends for explicit-H proteins).

What is dropped: water and every heterogen except monatomic metal ions (cofactors, sugars, buffer
molecules: they have no templates, and guessing their chemistry from a PDB would report contacts with
invented charges). Interactions with a cofactor are therefore not reported.

Done once per protein file (seconds for a few hundred residues) and cached by the caller
(`docking.inference.interactions.InteractionProfiler`).
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np

from disco_core.errors import InputError

logger = logging.getLogger(__name__)

PROTONATION_PH = 7.4
LINK_MAX_NM = 0.2            # consecutive residues whose C-N (O3'-P) is longer than this are a chain break
# Monatomic ions kept beside the polymer (ProLIF's metal interactions look for Ca, Cd, Co, Cu, Fe, Mg, Mn, Ni, Zn;
# Na and K are kept too: they are part of the structure's electrostatics and have no hydrogens to add).
METAL_ELEMENTS = frozenset({"Ca", "Cd", "Co", "Cu", "Fe", "Mg", "Mn", "Ni", "Zn", "Na", "K"})


# Residues OpenMM has hydrogen templates for: amino acids (with Amber's protonation and cap names) and nucleotides.
POLYMER_RESIDUES = frozenset(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "ASH GLH HID HIE HIP CYX LYN ACE NME DA DC DG DT A C G U".split())


def _polymer(residue) -> bool:
    return residue.name in POLYMER_RESIDUES


def _polymer_or_metal(residue) -> bool:
    """An amino acid or nucleotide (after PDBFixer's replacement of modified ones), or a lone metal ion."""
    atoms = list(residue.atoms())
    if len(atoms) == 1 and atoms[0].element is not None and atoms[0].element.symbol in METAL_ELEMENTS:
        return True
    return residue.name in POLYMER_RESIDUES


def _linked(xyz: np.ndarray, first, second) -> bool:
    """Whether two consecutive residues of a chain are bonded (peptide C-N or nucleotide O3'-P)."""
    for tail, head in (("C", "N"), ("O3'", "P")):
        a = [atom.index for atom in first.atoms() if atom.name == tail]
        b = [atom.index for atom in second.atoms() if atom.name == head]
        if a and b:
            return float(np.linalg.norm(xyz[a[0]] - xyz[b[0]])) < LINK_MAX_NM
    return False


def split_at_chain_breaks(topology, positions):
    """The topology with a new chain wherever consecutive residues of a chain are not bonded (unresolved
    residues), so that protonation sees two termini there rather than a peptide bond across the gap (OpenMM
    bonds consecutive residues of a chain whatever their distance). Chain ids stay the user's."""
    from openmm import app, unit

    xyz = np.asarray(positions.value_in_unit(unit.nanometer))
    split, atom_map, kept = app.Topology(), {}, []
    for chain in topology.chains():
        residues = list(chain.residues())
        new_chain = None
        for i, residue in enumerate(residues):
            if new_chain is None or not (_polymer(residues[i - 1]) and _polymer(residue)
                                         and _linked(xyz, residues[i - 1], residue)):
                new_chain = split.addChain(chain.id)
            new_residue = split.addResidue(residue.name, new_chain, residue.id, residue.insertionCode)
            for atom in residue.atoms():
                atom_map[atom] = split.addAtom(atom.name, atom.element, new_residue, atom.id)
                kept.append(xyz[atom.index])
    for a, b in topology.bonds():
        if atom_map[a].residue.chain is atom_map[b].residue.chain:
            split.addBond(atom_map[a], atom_map[b])
    return split, np.asarray(kept) * unit.nanometer


def protonated_protein(protein_path: str | Path) -> tuple[str, list[tuple[int, int]]]:
    """PDB text of the protein with hydrogens at pH 7.4, and its bonds (atom index pairs, from OpenMM's
    residue templates). Raises InputError naming the file when it cannot be read or protonated."""
    from openmm import app
    from pdbfixer import PDBFixer

    path = Path(protein_path)
    if not path.is_file():
        raise InputError(str(path), "protein file not found")
    try:
        fixer = PDBFixer(filename=str(path))
    except Exception as exc:     # PDBFixer raises plain Exceptions (and ValueErrors) for files it cannot parse
        raise InputError(str(path), f"cannot read the protein for interactions ({first_line(exc)})") from None
    fixer.findNonstandardResidues()
    fixer.replaceNonstandardResidues()
    modeller = app.Modeller(fixer.topology, fixer.positions)
    modeller.delete([r for r in modeller.topology.residues() if not _polymer_or_metal(r)])
    if modeller.topology.getNumAtoms() == 0:
        raise InputError(str(path), "no protein or nucleic-acid residue to compute interactions with")
    fixer.topology, fixer.positions = split_at_chain_breaks(modeller.topology, modeller.positions)
    fixer.missingResidues = {}           # never build loops: a gap stays a chain break
    fixer.findMissingAtoms()
    fixer.addMissingAtoms()
    modeller = app.Modeller(fixer.topology, fixer.positions)
    try:
        modeller.addHydrogens(pH=PROTONATION_PH)
    except ValueError as exc:
        raise InputError(str(path), f"cannot add hydrogens for interactions ({first_line(exc)})") from None
    text = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, modeller.positions, text, keepIds=True)
    bonds = [(a.index, b.index) for a, b in modeller.topology.bonds()]
    return text.getvalue(), bonds


# ProLIF names a residue NAME<number>.<chain> and has no insertion code, so two residues 82 and 82A of one chain
# (antibody numbering) would be one fragmented residue: the insertion code is carried in the name instead,
# NAME^<code>, which `residue_label` turns back into NAME82A.<chain>.
INSERTION_MARK = "^"


def import_prolif():
    """ProLIF (and MDAnalysis, which it imports) without their import-time notes on the user's terminal
    (MDAnalysis warns about optional readers, e.g. netCDF, that interactions never use)."""
    logging.getLogger("MDAnalysis").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import MDAnalysis  # noqa: F401  (it adds a filter of its own at import: ours must come after it)

        warnings.simplefilter("ignore")
        import prolif
    return prolif


def prolif_receptor(protein_path: str | Path):
    """The protein as a `prolif.Molecule` with explicit hydrogens, bond orders and charges."""
    prolif = import_prolif()
    import MDAnalysis as mda

    pdb_text, bonds = protonated_protein(protein_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # MDAnalysis' notes on PDB records it does not use
        universe = mda.Universe(io.StringIO(pdb_text), format="PDB")
        universe.add_TopologyAttr("bonds", bonds)
        try:
            mol = universe.atoms.convert_to.rdkit()
            for atom in mol.GetAtoms():
                info = atom.GetPDBResidueInfo()
                if info.GetInsertionCode().strip():
                    info.SetResidueName(f"{info.GetResidueName().strip()}{INSERTION_MARK}{info.GetInsertionCode().strip()}")
            return prolif.Molecule(mol)
        except Exception as exc:   # RDKit's sanitisation and ProLIF's residue checks raise several types
            raise InputError(str(protein_path), f"cannot build the protonated protein for interactions "
                                                f"({first_line(exc)})") from None


def residue_label(resid) -> tuple[str, str, str]:
    """(label, chain, number) of a ProLIF residue id: ('ASP189.A', 'A', '189'); an insertion code is part of
    the number ('LEU82A.H', 'H', '82A')."""
    name, _, insertion = resid.name.partition(INSERTION_MARK)
    number = f"{resid.number}{insertion}"
    chain = resid.chain or ""
    return (f"{name}{number}.{chain}" if chain else f"{name}{number}"), chain, number


def first_line(exc: BaseException) -> str:
    """An exception's first line (the reason, without the traceback-like detail some libraries append)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
