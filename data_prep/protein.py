"""Protein structure (PDB or mmCIF) -> per-residue arrays for a C-alpha residue graph.

Parsing is gemmi's (fast, reads both formats and gzip). The choices below follow what a docking model
needs from a receptor: one node per amino-acid residue that has a C-alpha, its type, and the backbone
N / C atoms that orient it. Everything else (waters, ions, ligands, hydrogens, nucleic acids) is left
out and counted, so a surprising receptor can be explained from its counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from disco_core.errors import InputError

# Alphabetical 3-letter order; index 20 is "unknown / non-standard" (MSE, PTR, UNK, ...).
RESIDUE_TYPES: list[str] = ["ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE",
                            "LEU", "LYS", "MET", "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"]
UNKNOWN_RESIDUE = len(RESIDUE_TYPES)
NUM_RESIDUE_TYPES = UNKNOWN_RESIDUE + 1
THREE_TO_ONE = dict(zip(RESIDUE_TYPES, "ARNDCQEGHILKMFPSTWYV"))
_RESIDUE_INDEX = {name: i for i, name in enumerate(RESIDUE_TYPES)}
DEFAULT_MAX_RESIDUES = 10_000
WATER_NAMES = frozenset({"HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SPC"})


@dataclass
class ReceptorStructure:
    """Residues (with a C-alpha) of one protein, in file order, plus what was left out and why."""

    path: str
    residue_type: np.ndarray          # (M,) int64, 0..20
    ca_pos: np.ndarray                # (M, 3) float32
    n_pos: np.ndarray                 # (M, 3) float32, CA where N is missing
    c_pos: np.ndarray                 # (M, 3) float32, CA where C is missing
    residue_ids: list[str]            # "A:45" / "A:45B"
    chain_ids: list[str]              # chain of every residue
    residue_names: list[str]          # 3-letter names as in the file
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def num_residues(self) -> int:
        return int(self.residue_type.shape[0])

    def chain_sequences(self) -> dict[str, str]:
        """One-letter sequence per chain (X for non-standard), over the kept residues, in order."""
        sequences: dict[str, list[str]] = {}
        for chain, name in zip(self.chain_ids, self.residue_names):
            sequences.setdefault(chain, []).append(THREE_TO_ONE.get(name, "X"))
        return {chain: "".join(letters) for chain, letters in sequences.items()}


def _pick_altloc_atoms(residue) -> dict[str, object]:
    """Heavy atoms by name, keeping the alternate location with the highest occupancy (first on ties)."""
    best: dict[str, object] = {}
    for atom in residue:
        if atom.element.name in ("H", "D"):
            continue
        kept = best.get(atom.name)
        if kept is None or atom.occ > kept.occ:
            best[atom.name] = atom
    return best


def _is_amino_acid_like(residue, atoms: dict[str, object]) -> bool:
    """A residue with a carbon C-alpha that is either a polymer ATOM record or has a backbone N and C.

    The backbone test keeps HETATM-flagged modified residues (MSE, PTR) and drops calcium ions
    (atom name CA, element Ca) and ligands that happen to name a carbon CA."""
    ca = atoms.get("CA")
    if ca is None or ca.element.name != "C":
        return False
    return residue.het_flag != "H" or ("N" in atoms and "C" in atoms)


def read_first_model(path: str | Path):
    """The first model of a PDB/mmCIF file as a gemmi Model; InputError naming the file when it is
    missing, empty, unparsable or holds no model."""
    import gemmi

    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "protein file not found")
    if path.stat().st_size == 0:
        raise InputError(str(path), "protein file is empty")
    try:
        structure = gemmi.read_structure(str(path))
    except Exception as exc:  # gemmi raises RuntimeError/ValueError with a message
        raise InputError(str(path), "cannot parse protein structure: " + " ".join(str(exc).split())) from exc
    if len(structure) == 0:
        raise InputError(str(path), "protein file holds no model (no ATOM/HETATM records)")
    return structure[0]


def is_hydrogen_record(line: str) -> bool:
    """Whether a PDB ATOM/HETATM line is a hydrogen (or deuterium): by its element column, else by its atom name
    (leading digits of names such as 1HB skipped), for code that edits PDB text before a parser reads it."""
    element = line[76:78].strip().upper()
    if element:
        return element in ("H", "D")
    return line[12:16].strip().lstrip("0123456789")[:1] in ("H", "D")


BOND_TO_HYDROGEN_A = 1.3   # a hydrogen this close to a heavy atom of its residue is bonded to it


@dataclass(frozen=True)
class HeavyAtoms:
    """Every heavy atom of a structure's first model (waters left out; cofactors, ions and ligands in
    the file kept; first alternate location), for what looks at atoms rather than residues."""

    elements: list[str]        # gemmi element names ("C", "Zn")
    residue_names: list[str]   # upper case
    atom_names: list[str]
    pos: np.ndarray            # (A, 3) float64
    hydrogens: np.ndarray | None = None   # (A,) H atoms the file bonds to each; None: the file has no hydrogens


def read_heavy_atoms(path: str | Path) -> HeavyAtoms:
    """HeavyAtoms of a PDB/mmCIF file; InputError naming the file when it cannot be read or has none."""
    return heavy_atoms_of_model(read_first_model(path), path)


def heavy_atoms_of_model(model, path: str | Path) -> HeavyAtoms:
    """HeavyAtoms of an already-read gemmi Model (`read_first_model`); `path` names it in errors.
    Hydrogens are counted per heavy atom (within BOND_TO_HYDROGEN_A, same residue) because they settle
    what the heavy atoms cannot show, such as a histidine's tautomer."""
    elements, residues, names, pos, hydrogens = [], [], [], [], []
    any_hydrogen = False
    for chain in model:
        for residue in chain:
            if residue.name.upper() in WATER_NAMES:
                continue
            kept = [a for a in residue if a.altloc in ("\0", " ", "A")]
            h_pos = np.array([a.pos.tolist() for a in kept if a.element.is_hydrogen]).reshape(-1, 3)
            any_hydrogen = any_hydrogen or len(h_pos) > 0
            heavy = [a for a in kept if not a.element.is_hydrogen]
            heavy_pos = [a.pos.tolist() for a in heavy]
            for atom in heavy:
                elements.append(atom.element.name)
                residues.append(residue.name.upper())
                names.append(atom.name.strip())
            pos.extend(heavy_pos)
            if len(h_pos) and heavy:
                near = np.linalg.norm(np.array(heavy_pos)[:, None] - h_pos[None], axis=2) < BOND_TO_HYDROGEN_A
                hydrogens.extend(near.sum(1).tolist())
            else:
                hydrogens.extend([0] * len(heavy))
    if not pos:
        raise InputError(str(path), "no heavy atoms found")
    return HeavyAtoms(elements, residues, names, np.array(pos, dtype=np.float64),
                      np.array(hydrogens, dtype=np.int64) if any_hydrogen else None)


def read_receptor(path: str | Path, max_residues: int = DEFAULT_MAX_RESIDUES) -> ReceptorStructure:
    """Parse a PDB/mmCIF file (first model) into residue arrays.

    Raises InputError naming the file when it is missing, unreadable, has no residue with a C-alpha,
    or has more than `max_residues` of them (refused so that one huge entry cannot exhaust memory
    downstream; the parse itself is proportional to the file)."""
    return structure_of_model(read_first_model(path), path, max_residues)


def structure_of_model(model, path: str | Path, max_residues: int = DEFAULT_MAX_RESIDUES) -> ReceptorStructure:
    """`read_receptor` of an already-read gemmi Model (`read_first_model`); `path` is its source (kept
    in the result, and named in errors)."""
    counts = {"waters_removed": 0, "het_groups_removed": 0, "polymer_residues_without_ca": 0,
              "alternate_residues_dropped": 0, "nonstandard_residues": 0}
    types, ca, n, c, ids, chains, names, occupancy = [], [], [], [], [], [], [], []
    last_key = None
    for chain in model:
        chain_name = chain.name.strip() or "_"
        for residue in chain:
            if residue.is_water():
                counts["waters_removed"] += 1
                continue
            atoms = _pick_altloc_atoms(residue)
            if not _is_amino_acid_like(residue, atoms):
                if residue.het_flag == "H":
                    counts["het_groups_removed"] += 1
                else:
                    counts["polymer_residues_without_ca"] += 1
                continue
            key = (chain_name, residue.seqid.num, residue.seqid.icode)
            ca_atom = atoms["CA"]
            if key == last_key:
                # Microheterogeneity: two residue names for one position (altlocs). Keep the more occupied.
                counts["alternate_residues_dropped"] += 1
                if ca_atom.occ <= occupancy[-1]:
                    continue
                for column in (types, ca, n, c, ids, chains, names, occupancy):
                    column.pop()
            last_key = key
            name = residue.name.upper()
            index = _RESIDUE_INDEX.get(name, UNKNOWN_RESIDUE)
            types.append(index)
            ca_xyz = ca_atom.pos.tolist()
            ca.append(ca_xyz)
            n.append(atoms["N"].pos.tolist() if "N" in atoms else ca_xyz)
            c.append(atoms["C"].pos.tolist() if "C" in atoms else ca_xyz)
            icode = residue.seqid.icode.strip()
            ids.append(f"{chain_name}:{residue.seqid.num}{icode}")
            chains.append(chain_name)
            names.append(name)
            occupancy.append(ca_atom.occ)
            if len(types) > max_residues:
                raise InputError(str(path), f"protein has more than max_residues={max_residues} residues with a "
                                            f"C-alpha; refused to bound memory (raise --max-residues to allow it)")
    counts["nonstandard_residues"] = sum(1 for t in types if t == UNKNOWN_RESIDUE)
    if not types:
        raise InputError(str(path), "no amino-acid residue with a C-alpha atom (not a protein, or only ligands)")
    return ReceptorStructure(
        path=str(path),
        residue_type=np.asarray(types, dtype=np.int64),
        ca_pos=np.asarray(ca, dtype=np.float32),
        n_pos=np.asarray(n, dtype=np.float32),
        c_pos=np.asarray(c, dtype=np.float32),
        residue_ids=ids, chain_ids=chains, residue_names=names, counts=counts,
    )
