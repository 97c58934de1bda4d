"""The receptor as ProLIF needs it: every hydrogen explicit, bond orders and formal charges set.

ProLIF finds hydrogen bonds from donor-H...acceptor geometry and salt bridges from formal charges, so a
heavy-atom PDB (what most users have, and what PDBbind ships without hydrogens) must be protonated first.
The well-kept route is OpenMM's: PDBFixer turns modified residues into their standard parent (a
phosphotyrosine is read as a tyrosine) and completes residues with missing heavy atoms, and
`Modeller.addHydrogens` protonates at pH 7.4 from OpenMM's residue templates (Asp/Glu deprotonated,
Lys/Arg protonated, histidine tautomers from their hydrogen-bond partners; hydrogens already in the file
decide the variant of their residue). MDAnalysis' RDKit converter then infers bond orders and charges from
the now complete hydrogen set, with the bonds taken from OpenMM's templates rather than guessed from
distances (as `prolif.Molecule.from_mda` does, the path ProLIF's documentation recommends for explicit-H
proteins).

What is dropped: water and every heterogen except monatomic metal ions (cofactors, sugars, buffer
molecules: they have no templates, and guessing their chemistry from a PDB would report contacts with
invented charges). Interactions with a cofactor are therefore not reported.

Done once per protein file (2-10 s for a few hundred residues on one CPU core; up to a minute or two for
multi-chain proteins of ~1500 residues with missing atoms, whose completion PDBFixer relaxes by dynamics) and
cached by the caller (`docking.contacts.profiler.InteractionProfiler`). Chains are split where residues are
unresolved (`split_at_chain_breaks`); ProLIF's limits on residue keys are handled by `InteractionReceptor`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from disco_core.errors import InputError

logger = logging.getLogger(__name__)

PROTONATION_PH = 7.4
LINK_MAX_NM = 0.2            # consecutive residues whose C-N (O3'-P) is longer than this are a chain break
STAND_IN_NUMBERS = 900_000   # ProLIF's numbers for residues it cannot key (InteractionReceptor)
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


@contextlib.contextmanager
def deterministic_openmm():
    """OpenMM set up so that the same protein gets the same hydrogens in every process (else a borderline
    hydrogen bond flips from one run, or one resumed run, to the next): OpenMM starts new hydrogens at
    positions drawn from Python's `random`, seeded here, and minimises them, on the CPU platform with one
    thread (several threads sum forces in varying order; one is 2x faster than the Reference platform, which
    is the fallback). The caller's random stream and the platform's thread default are restored after."""
    import openmm

    state = random.getstate()
    random.seed(0)
    names = {openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())}
    platform = openmm.Platform.getPlatformByName("CPU") if "CPU" in names else None
    threads = platform.getPropertyDefaultValue("Threads") if platform is not None else None
    try:
        if platform is None:
            yield openmm.Platform.getPlatformByName("Reference")
        else:
            platform.setPropertyDefaultValue("Threads", "1")
            yield platform
    finally:
        random.setstate(state)
        if platform is not None:
            platform.setPropertyDefaultValue("Threads", threads)


def protonated_protein(protein_path: str | Path, keep_hydrogens: bool = True) -> tuple[str, list[tuple[int, int]]]:
    """PDB text of the protein with hydrogens at pH 7.4, and its bonds (atom index pairs, from OpenMM's
    residue templates). `keep_hydrogens=False` deletes the file's own hydrogens first. Raises InputError naming
    the file when it cannot be read or protonated."""
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
    if not keep_hydrogens:
        modeller.delete([a for a in modeller.topology.atoms() if a.element is not None and a.element.symbol == "H"])
    if modeller.topology.getNumAtoms() == 0:
        raise InputError(str(path), "no protein or nucleic-acid residue to compute interactions with")
    fixer.topology, fixer.positions = split_at_chain_breaks(modeller.topology, modeller.positions)
    fixer.missingResidues = {}           # never build loops: a gap stays a chain break
    fixer.findMissingAtoms()
    with deterministic_openmm() as platform:
        fixer.platform = platform
        fixer.addMissingAtoms(seed=0)   # its dynamics seeded: the same protein always gets the same atoms
        modeller = app.Modeller(fixer.topology, fixer.positions)
        try:
            modeller.addHydrogens(pH=PROTONATION_PH, platform=platform)
        except ValueError as exc:
            raise InputError(str(path), f"cannot add hydrogens for interactions ({first_line(exc)})") from None
    text = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, modeller.positions, text, keepIds=True)
    bonds = [(a.index, b.index) for a, b in modeller.topology.bonds()]
    return text.getvalue(), bonds


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


class ChemistryError(InputError):
    """The protonated protein is not a molecule RDKit or ProLIF accepts (bonds, valences, residues)."""


@dataclass
class InteractionReceptor:
    """The protonated protein ProLIF reads, and the user's name for each of its residues.

    ProLIF keys a residue by (name, number, chain) with an unsigned number and no insertion code, so residues
    82, 82A and 82B of an antibody chain would be one fragmented residue and residue -1 of a tag is refused.
    Such residues get a stand-in number for ProLIF; `label` gives every residue back as the file names it."""

    molecule: object                                  # prolif.Molecule
    labels: dict[tuple[str, int, str], tuple[str, str, str]]

    def label(self, resid) -> tuple[str, str, str]:
        """(label, chain, number) of a ProLIF residue id: ('ASP189.A', 'A', '189'), ('LEU82A.H', 'H', '82A')."""
        key = (resid.name, resid.number, resid.chain or "")
        return self.labels.get(key) or _label(resid.name, str(resid.number), resid.chain or "")


def _label(name: str, number: str, chain: str) -> tuple[str, str, str]:
    return (f"{name}{number}.{chain}" if chain else f"{name}{number}"), chain, number


def _prolif_ready(mol) -> dict[tuple[str, int, str], tuple[str, str, str]]:
    """Give residues ProLIF cannot key (an insertion code, a negative number) a stand-in number, in place;
    returns the labels of all residues by their ProLIF key."""
    stand_ins: dict[tuple, int] = {}
    labels = {}
    for atom in mol.GetAtoms():
        info = atom.GetPDBResidueInfo()
        name, chain = info.GetResidueName().strip(), info.GetChainId().strip()
        number, insertion = info.GetResidueNumber(), info.GetInsertionCode().strip()
        if insertion or number < 0:
            true_key = (name, number, insertion, chain)
            stand_ins.setdefault(true_key, STAND_IN_NUMBERS + len(stand_ins))
            info.SetResidueNumber(stand_ins[true_key])
        labels[(name, info.GetResidueNumber(), chain)] = _label(name, f"{number}{insertion}", chain)
    return labels


def _build(protein_path: str | Path, keep_hydrogens: bool) -> InteractionReceptor:
    prolif = import_prolif()
    import MDAnalysis as mda

    pdb_text, bonds = protonated_protein(protein_path, keep_hydrogens)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # MDAnalysis' notes on PDB records it does not use
        universe = mda.Universe(io.StringIO(pdb_text), format="PDB")
        universe.add_TopologyAttr("bonds", bonds)
        try:
            mol = universe.atoms.convert_to.rdkit()
            labels = _prolif_ready(mol)
            return InteractionReceptor(prolif.Molecule(mol), labels)
        except Exception as exc:   # RDKit's sanitisation and ProLIF's residue checks raise several types
            raise ChemistryError(str(protein_path), f"cannot build the protonated protein for interactions "
                                                    f"({first_line(exc)})") from None


def prolif_receptor(protein_path: str | Path) -> InteractionReceptor:
    """The protein with explicit hydrogens, bond orders and charges, as ProLIF reads it. The file's own
    hydrogens are kept (they say which tautomer or charge the user chose); when they contradict its bonds
    (an N-terminal NH3+ on a residue bonded to the one before it, as some preparation tools leave at a
    numbering gap), the protein is protonated again without them."""
    try:
        return _build(protein_path, keep_hydrogens=True)
    except ChemistryError as exc:
        logger.info("%s: its hydrogens contradict its bonds (%s); adding them anew", protein_path, exc.reason)
        return _build(protein_path, keep_hydrogens=False)


def first_line(exc: BaseException) -> str:
    """An exception's first line (the reason, without the traceback-like detail some libraries append)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
