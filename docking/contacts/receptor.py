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

What is dropped: water, and the heterogens RDKit cannot build from a template. Cofactors and other heterogens
(NAD(P)(H), FAD, FMN, ATP/ADP/AMP, GTP/GDP, SAM/SAH, PLP, sulfate, phosphate, glycerol...) have no OpenMM
template; they are taken out before PDBFixer and OpenMM see the file and built with RDKit from their heavy atoms,
bond orders, charges and hydrogens from a template of their residue name (`docking.contacts.cofactors`, which
says which and how), then appended to the protonated polymer, so that ProLIF reports their contacts under the
file's residue name and number (`NDP195.B`). A heterogen without a matching template is left out, as every
heterogen was before (guessing its chemistry from a PDB would report contacts with invented charges). Monatomic
metal ions stay with the polymer (OpenMM has their templates). The cofactors play no part in OpenMM's choice of
histidine tautomers or hydrogen positions, as before.

Only the pocket is protonated (`PocketRegion`): whole residues with a heavy atom within `CROP_MARGIN_A` (12 A)
of a heavy atom of the poses being profiled, and the metal ions and heterogens there (whole); the
rest is dropped before PDBFixer reads the file (mmCIF: right after). Why: protonating a whole multi-chain
receptor (PDBFixer, OpenMM, then MDAnalysis' conversion for ProLIF) costs minutes, most of a docking run of
one ligand (issue 43), while only the residues near the poses can make contacts. The crop cuts chains: `split_at_chain_breaks`
makes each kept fragment a chain of its own, which PDBFixer and OpenMM end with termini (NH3+, COO-), and a
disulfide whose partner was dropped becomes a thiol. Residue numbers, insertion codes and chain ids stay the
file's, so contact labels (`ASP189.A`) are those of the whole protein. The crop cannot change a contact:

- Artificial termini and thiols are too far away to be seen. A kept boundary residue is bonded to a dropped one
  whose heavy atoms all lie > 12 A from every pose heavy atom, so its terminal N or C (1.33 A from the dropped
  residue's C or N) lies > 10.6 A away, and what is added on it (H, OXT: <= 1.25 A further) > 9.4 A; a new thiol
  hydrogen likewise > 8.6 A. ProLIF's cutoffs are all shorter: hydrogen and halogen bonds 3.5 A, ions,
  cation-pi and hydrophobic contacts 4.5 A, pi-stacking 6.5 A between ring centroids (a ring, never a
  terminus). A pose that reuses a crop made for other poses may lie up to `REUSE_SLACK_A` (2 A) beyond their
  atoms, which still leaves > 7.4 A.
- Every residue that can touch a pose is kept: the farthest a contact reaches, ring atom to ring atom of a
  6.5 A pi-stack, is 6.5 + 2 x 1.4 = 9.3 A, inside the margin less the reuse slack (10 A).
- Protonation states of those residues are those of the whole protein: OpenMM's choices are per residue from
  its template, except histidine, whose tautomer follows its hydrogen-bond partners (acceptors within 3.5 A of
  ND1/NE2). A histidine whose tautomer can change a contact has a ring nitrogen within 4.5 A of the pose (3.5 A
  for an H-bond, 4.5 A for a charged HIP), so its partners lie within 8 A, all kept.

What the crop does change is where atoms the file lacks end up. OpenMM minimises all new hydrogens in one call
(their start positions drawn from the seeded random stream in atom order, the minimiser's steps global), so a
rotatable hydrogen (hydroxyl, NH3+) of the pocket may settle elsewhere; PDBFixer likewise minimises (and, on a
clash, runs dynamics over) all the heavy atoms it builds for incomplete side chains. Neither placement is more
right than the other. Hydrogen-bond distances are donor-acceptor distances and do not move; an angle near
ProLIF's 130-degree limit, or a contact of a built side chain, could in principle differ, as it can between
OpenMM versions. tests/docking/test_pocket_contacts.py checks that the crystal poses of the shipped complexes
get the same contacts from the pocket as from the whole protein.

Done once per protein file and pocket, cached by the caller (`docking.contacts.profiler.InteractionProfiler`),
which crops around all poses of one ligand together and reuses a crop for poses that lie inside it.
`crop=None` protonates the whole protein (2-10 s for a few hundred residues on one CPU core; minutes for
multi-chain proteins of ~1500 residues with missing atoms, whose completion PDBFixer relaxes by dynamics). Chains
are split where residues are unresolved (`split_at_chain_breaks`); ProLIF's limits on residue keys are handled
by `InteractionReceptor`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import random
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from data_prep.protein import is_hydrogen_record
from disco_core.errors import InputError
from docking.contacts.cofactors import WATER_RESIDUES, Heterogen, heavy_formula, heterogen_molecule

logger = logging.getLogger(__name__)

PROTONATION_PH = 7.4
LINK_MAX_NM = 0.2            # consecutive residues whose C-N (O3'-P) is longer than this are a chain break
STAND_IN_NUMBERS = 900_000   # ProLIF's numbers for residues it cannot key (InteractionReceptor)
CROP_MARGIN_A = 12.0         # residues with a heavy atom this close to a pose heavy atom are protonated
REUSE_SLACK_A = 2.0          # a pose whose heavy atoms lie this close to a crop's poses reuses that crop
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


class EmptyPocket(InputError):
    """No residue of the protein lies within the crop margin of the poses: they have no contacts."""


@dataclass(frozen=True, eq=False)
class PocketRegion:
    """The part of space whose residues are protonated: heavy-atom positions of poses (A), and how far beyond
    them residues are kept (`margin`, A)."""

    points: np.ndarray
    margin: float = CROP_MARGIN_A

    @classmethod
    def around_poses(cls, poses, margin: float = CROP_MARGIN_A) -> "PocketRegion":
        """The region of all heavy atoms of the poses (RDKit molecules with a conformer) together."""
        points = [mol.GetConformer().GetPositions()[[a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]]
                  for mol in poses]
        return cls(np.round(np.concatenate(points).reshape(-1, 3), 3), float(margin))

    @cached_property
    def key(self) -> tuple:
        """A hashable identity (the positions to 1e-3 A): the profiler's cache key beside the protein file."""
        return self.margin, hashlib.sha1(np.ascontiguousarray(self.points).tobytes()).hexdigest()

    @cached_property
    def _tree(self):
        from scipy.spatial import cKDTree

        return cKDTree(self.points)

    def distances(self, xyz: np.ndarray) -> np.ndarray:
        """Each position's distance (A) to the nearest of the region's atoms."""
        xyz = np.asarray(xyz, float).reshape(-1, 3)
        return self._tree.query(xyz)[0] if len(xyz) else np.zeros(0)

    def within_margin(self, xyz: np.ndarray) -> np.ndarray:
        """Whether each position lies within `margin` of one of the region's atoms (a bounded search: far
        positions, most of a large receptor, cost next to nothing)."""
        xyz = np.asarray(xyz, float).reshape(-1, 3)
        if not len(xyz):
            return np.zeros(0, dtype=bool)
        return self._tree.query(xyz, distance_upper_bound=self.margin + 1e-6)[0] <= self.margin

    def covers(self, other: "PocketRegion", slack: float = REUSE_SLACK_A) -> bool:
        """Whether a crop made for this region serves `other` with the same contacts: the same margin, and
        every one of other's atoms within `slack` of this region (module docstring)."""
        return other.margin == self.margin and bool(np.all(self.distances(other.points) <= slack))


def _residue_key(line: str) -> tuple[str, str, str]:
    return line[21], line[22:27], line[17:20].strip()      # chain, number and insertion code, name


def _coordinates(records: list[str]) -> np.ndarray:
    """The x, y, z columns of ATOM/HETATM records (A); NaN for a record whose columns are not numbers."""
    try:
        return np.array([(r[30:38], r[38:46], r[46:54]) for r in records], dtype=float).reshape(-1, 3)
    except ValueError:                      # a malformed record: parse one by one
        xyz = np.full((len(records), 3), np.nan)
        for i, r in enumerate(records):
            with contextlib.suppress(ValueError):
                xyz[i] = float(r[30:38]), float(r[38:46]), float(r[46:54])
        return xyz


def crop_pdb_text(text: str, region: PocketRegion) -> tuple[str, bool]:
    """The PDB text with only the whole residues that have a heavy atom within `region.margin` of the region
    (atom, anisotropy and CONECT records of the others dropped, and the TER of a chain dropped whole; every
    other record kept as it is, so numbering, insertion codes and chain ids stay the file's), and whether the
    file has polymer residues at all (to tell poses far from the protein from a file with nothing to protonate).

    One pass over the text and numpy for the distances: a 32,000-atom receptor is cropped in about 0.1 s."""
    lines = text.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith(("ATOM  ", "HETATM"))]
    records = [lines[i] for i in rows]
    residues: dict[tuple, int] = {}
    owner = np.fromiter((residues.setdefault(_residue_key(r), len(residues)) for r in records), dtype=np.int64,
                        count=len(records))
    polymer = any(r.startswith("ATOM") for r in records) or any(key[2] in POLYMER_RESIDUES for key in residues)
    heavy = np.fromiter((not is_hydrogen_record(r) for r in records), dtype=bool, count=len(records))
    xyz = _coordinates(records)
    heavy &= np.isfinite(xyz).all(axis=1)
    near = np.zeros(len(records), dtype=bool)
    near[heavy] = region.within_margin(xyz[heavy])
    kept_residues = np.zeros(len(residues), dtype=bool)
    kept_residues[owner[near]] = True
    keep = np.ones(len(lines), dtype=bool)
    keep[rows] = kept_residues[owner]
    kept_keys = {key for key, i in residues.items() if kept_residues[i]}
    out, serials, chain_open = [], set(), False
    for i, line in enumerate(lines):
        if line.startswith(("ATOM  ", "HETATM")):
            if not keep[i]:
                continue
            serials.add(line[6:11].strip())
            chain_open = True
        elif line.startswith("ANISOU") and _residue_key(line) not in kept_keys:
            continue
        elif line.startswith("TER"):
            if not chain_open:           # the chain it ends was dropped whole: OpenMM refuses a TER of nothing
                continue
            chain_open = False
        out.append(line)
    conect = [i for i, line in enumerate(out) if line.startswith("CONECT")]
    for i in reversed(conect):
        fields = [out[i][j:j + 5].strip() for j in range(6, 31, 5)]
        if not all(f in serials for f in fields if f):
            del out[i]
    return "\n".join(out) + "\n", polymer


def _crop_topology(modeller, region: PocketRegion) -> None:
    """Delete, in place, the residues without a heavy atom within the region's margin (the mmCIF route)."""
    from openmm import unit

    near = region.within_margin(np.asarray(modeller.positions.value_in_unit(unit.angstrom)))
    far = []
    for residue in modeller.topology.residues():
        heavy = [a.index for a in residue.atoms() if a.element is None or a.element.symbol not in ("H", "D")]
        if not heavy or not near[heavy].any():
            far.append(residue)
    modeller.delete(far)


def _read(path: Path, crop: PocketRegion | None):
    """PDBFixer on the file, or on the residues near `crop` (PDB text cropped before PDBFixer parses it; mmCIF
    cropped after), and whether the whole file has polymer residues; (None, that) when nothing is near the crop.
    Raises InputError when the file cannot be read."""
    from openmm import app
    from pdbfixer import PDBFixer

    pdbx = any(tag in path.name.lower() for tag in (".cif", ".pdbx"))
    polymer = True
    try:
        if crop is None or pdbx:
            fixer = PDBFixer(filename=str(path))
        else:
            text, polymer = crop_pdb_text(path.read_text(errors="replace"), crop)
            if not any(line.startswith(("ATOM  ", "HETATM")) for line in text.splitlines()):
                return None, polymer
            fixer = PDBFixer(pdbfile=io.StringIO(text))
    except Exception as exc:     # PDBFixer raises plain Exceptions (and ValueErrors) for files it cannot parse
        raise InputError(str(path), f"cannot read the protein for interactions ({first_line(exc)})") from None
    if crop is not None and pdbx:
        modeller = app.Modeller(fixer.topology, fixer.positions)
        polymer = any(_polymer_or_metal(r) for r in modeller.topology.residues())
        _crop_topology(modeller, crop)
        fixer.topology, fixer.positions = modeller.topology, modeller.positions
    return fixer, polymer


def protonated_protein(protein_path: str | Path, keep_hydrogens: bool = True,
                       crop: PocketRegion | None = None) -> tuple[str, list[tuple[int, int]]]:
    """PDB text of the protein (of its residues near `crop`; None: all of it) with hydrogens at pH 7.4, and its
    bonds (atom index pairs, from OpenMM's residue templates); heterogens other than metal ions left out
    (`protonated_receptor` returns them beside). Raises as `protonated_receptor`."""
    text, bonds, _ = protonated_receptor(protein_path, keep_hydrogens, crop)
    return text, bonds


def _heterogens(topology, positions) -> list[Heterogen]:
    """The heavy atoms of every residue that is neither polymer, metal ion nor water (cofactors, additives, a
    ligand's copy), as the file names them."""
    from openmm import unit

    xyz = np.asarray(positions.value_in_unit(unit.angstrom))
    groups = []
    for residue in topology.residues():
        if _polymer_or_metal(residue) or residue.name in WATER_RESIDUES:
            continue
        atoms = [a for a in residue.atoms() if a.element is None or a.element.symbol not in ("H", "D")]
        if not atoms or any(a.element is None for a in atoms) or not residue.id.strip().lstrip("-").isdigit():
            logger.info("heterogen %s %s%s: atoms without element or an unusual number; left out", residue.name,
                        residue.id, residue.chain.id)
            continue
        groups.append(Heterogen(residue.name, residue.chain.id, residue.id.strip(),
                                (residue.insertionCode or "").strip(), tuple(a.name for a in atoms),
                                tuple(a.element.symbol for a in atoms), xyz[[a.index for a in atoms]]))
    return groups


def protonated_receptor(protein_path: str | Path, keep_hydrogens: bool = True, crop: PocketRegion | None = None
                        ) -> tuple[str, list[tuple[int, int]], list[Heterogen]]:
    """PDB text of the protein (of its residues near `crop`; None: all of it) with hydrogens at pH 7.4, its
    bonds (atom index pairs, from OpenMM's residue templates), and the heterogens near `crop` (cofactors...:
    `docking.contacts.cofactors`; not metal ions, which stay in the text, nor waters). `keep_hydrogens=False`
    deletes the file's own hydrogens first. Raises InputError naming the file when it cannot be read, completed
    or protonated, and EmptyPocket when no residue is near the crop."""
    from openmm import app

    path = Path(protein_path)
    if not path.is_file():
        raise InputError(str(path), "protein file not found")
    fixer, polymer = _read(path, crop)
    modeller, heterogens = None, []
    if fixer is not None:
        fixer.findNonstandardResidues()
        fixer.replaceNonstandardResidues()
        modeller = app.Modeller(fixer.topology, fixer.positions)
        heterogens = _heterogens(modeller.topology, modeller.positions)
        modeller.delete([r for r in modeller.topology.residues() if not _polymer_or_metal(r)])
        if not keep_hydrogens:
            modeller.delete([a for a in modeller.topology.atoms()
                             if a.element is not None and a.element.symbol == "H"])
    if modeller is None or modeller.topology.getNumAtoms() == 0:
        if crop is not None and polymer:
            raise EmptyPocket(str(path), f"no residue within {crop.margin:g} A of the poses")
        raise InputError(str(path), "no protein or nucleic-acid residue to compute interactions with")
    fixer.topology, fixer.positions = split_at_chain_breaks(modeller.topology, modeller.positions)
    fixer.missingResidues = {}           # never build loops: a gap stays a chain break
    with deterministic_openmm() as platform:
        fixer.platform = platform
        try:
            fixer.findMissingAtoms()
            fixer.addMissingAtoms(seed=0)   # its dynamics seeded: the same protein always gets the same atoms
        except Exception as exc:  # PDBFixer raises plain Exceptions (templates, atoms it cannot place)
            part = "the residues near the poses" if crop is not None else "the protein"
            raise InputError(str(path), f"PDBFixer cannot complete {part} for interactions "
                                        f"({first_line(exc)})") from None
        modeller = app.Modeller(fixer.topology, fixer.positions)
        try:
            modeller.addHydrogens(pH=PROTONATION_PH, platform=platform)
        except ValueError as exc:
            raise InputError(str(path), f"cannot add hydrogens for interactions ({first_line(exc)})") from None
    text = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, modeller.positions, text, keepIds=True)
    bonds = [(a.index, b.index) for a, b in modeller.topology.bonds()]
    return text.getvalue(), bonds, heterogens


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
    # ProLIF key of each heterogen (cofactor...) -> its heavy-atom formula, to tell a copy of the docked ligand
    heterogen_formulas: dict[tuple[str, int, str], tuple] = field(default_factory=dict)

    def is_copy_of(self, resid, formula: tuple) -> bool:
        """Whether a ProLIF residue id is a heterogen with this heavy-atom formula (the docked ligand's own copy
        in the receptor file: its contacts are no contacts)."""
        return self.heterogen_formulas.get((resid.name, resid.number, resid.chain or "")) == formula

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


def _with_heterogens(mol, heterogens: list[Heterogen], protein_path):
    """The protonated polymer with the heterogens that have a template appended (RDKit, with hydrogens); those
    without one are named in one INFO line."""
    from rdkit import Chem

    left_out = []
    for group in heterogens:
        built = heterogen_molecule(group)
        if built is None:
            left_out.append(group.label)
        else:
            mol = Chem.CombineMols(mol, built)
    if left_out:
        logger.info("%s: heterogens without a matching template left out of the contacts: %s", protein_path,
                    ", ".join(left_out))
    return mol


def _heterogen_formulas(mol, n_polymer: int) -> dict[tuple[str, int, str], tuple]:
    """ProLIF key -> heavy-atom formula of the heterogens (the atoms after the first `n_polymer`)."""
    elements: dict[tuple[str, int, str], list[str]] = {}
    for atom in list(mol.GetAtoms())[n_polymer:]:
        info = atom.GetPDBResidueInfo()
        key = (info.GetResidueName().strip(), info.GetResidueNumber(), info.GetChainId().strip())
        elements.setdefault(key, []).append(atom.GetSymbol())
    return {key: heavy_formula(symbols) for key, symbols in elements.items()}


def _build(protein_path: str | Path, keep_hydrogens: bool, crop: PocketRegion | None) -> InteractionReceptor:
    prolif = import_prolif()
    import MDAnalysis as mda

    pdb_text, bonds, heterogens = protonated_receptor(protein_path, keep_hydrogens, crop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # MDAnalysis' notes on PDB records it does not use
        universe = mda.Universe(io.StringIO(pdb_text), format="PDB")
        universe.add_TopologyAttr("bonds", bonds)
        try:
            mol = universe.atoms.convert_to.rdkit()
            n_polymer = mol.GetNumAtoms()
            mol = _with_heterogens(mol, heterogens, protein_path)
            labels = _prolif_ready(mol)
            return InteractionReceptor(prolif.Molecule(mol), labels, _heterogen_formulas(mol, n_polymer))
        except Exception as exc:   # RDKit's sanitisation and ProLIF's residue checks raise several types
            raise ChemistryError(str(protein_path), f"cannot build the protonated protein for interactions "
                                                    f"({first_line(exc)})") from None


def prolif_receptor(protein_path: str | Path, crop: PocketRegion | None = None) -> InteractionReceptor:
    """The protein (its residues near `crop`; None: all of it) with explicit hydrogens, bond orders and charges,
    as ProLIF reads it. The file's own hydrogens are kept (they say which tautomer or charge the user chose);
    when they contradict its bonds (an N-terminal NH3+ on a residue bonded to the one before it, as some
    preparation tools leave at a numbering gap), the protein is protonated again without them."""
    try:
        return _build(protein_path, keep_hydrogens=True, crop=crop)
    except ChemistryError as exc:
        logger.info("%s: its hydrogens contradict its bonds (%s); adding them anew", protein_path, exc.reason)
        return _build(protein_path, keep_hydrogens=False, crop=crop)


def first_line(exc: BaseException) -> str:
    """An exception's first line (the reason, without the traceback-like detail some libraries append)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
