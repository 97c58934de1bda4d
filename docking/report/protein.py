"""The protein as the report's viewer shows it: one compact PDB text per protein file (PDB or mmCIF in,
waters and hydrogens out), and the questions the report asks of it (which residues line a pose, where a
named atom is). Read once per protein, whatever the number of its ligands."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from disco_core.errors import InputError

POCKET_CUTOFF_A = 5.0     # residues with an atom this close to the top pose are drawn as sticks


@dataclass
class ViewerProtein:
    key: str                             # content hash of the file: the name of its data script
    pdb_text: str                        # what the viewer parses (PDB format, trailing blanks trimmed)
    positions: np.ndarray                # (N, 3) heavy atoms, A
    residue_of_atom: np.ndarray          # (N,) index into `residues`
    residues: list[dict]                 # {"chain", "resi", "icode", "resn"} as the viewer selects them
    atom_names: list[str]
    _index: dict | None = field(default=None, init=False, repr=False)

    def pocket_residues(self, points: np.ndarray, cutoff: float = POCKET_CUTOFF_A) -> list[dict]:
        """Residues with a heavy atom within `cutoff` of any of the points, in file order."""
        if len(points) == 0 or len(self.positions) == 0:
            return []
        low, high = points.min(0) - cutoff, points.max(0) + cutoff
        near = np.flatnonzero(((self.positions >= low) & (self.positions <= high)).all(1))
        if len(near) == 0:
            return []
        distances = np.linalg.norm(self.positions[near, None, :] - points[None, :, :], axis=2).min(1)
        hits = np.unique(self.residue_of_atom[near[distances <= cutoff]])
        return [self.residues[i] for i in hits]

    def atom_position(self, chain: str, number: str, name: str) -> np.ndarray | None:
        """Where atom `name` of residue `number` ('189', '82A') of `chain` is; None when the file lacks it
        (an atom that the interactions' protonation added, for example)."""
        return self._atom_index().get((chain, number, name))

    def _atom_index(self) -> dict:
        if self._index is None:
            self._index = {}
            for position, residue, name in zip(self.positions, self.residue_of_atom, self.atom_names):
                r = self.residues[residue]
                self._index.setdefault((r["chain"], f"{r['resi']}{r['icode']}", name), position)
        return self._index


def load_viewer_protein(path: str | Path) -> ViewerProtein:
    """Read a protein file for the report; InputError names it when it cannot be read."""
    import gemmi

    path = Path(path)
    try:
        data = path.read_bytes()
        structure = gemmi.read_structure(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(str(path), f"cannot read the protein for the report ({exc})") from None
    structure.remove_waters()
    structure.remove_hydrogens()
    structure.remove_empty_chains()
    if len(structure) == 0:
        raise InputError(str(path), "no atoms to show in the report")
    del structure[1:]                        # the first model only, as docking uses it
    options = gemmi.PdbWriteOptions()
    options.minimal_file = True
    pdb_text = "\n".join(line.rstrip() for line in structure.make_pdb_string(options).splitlines()) + "\n"
    positions, residue_of_atom, residues, names = [], [], [], []
    for chain in structure[0]:
        for residue in chain:
            residues.append({"chain": chain.name, "resi": residue.seqid.num, "icode": residue.seqid.icode.strip(),
                             "resn": residue.name})
            for atom in residue:
                positions.append(atom.pos.tolist())
                residue_of_atom.append(len(residues) - 1)
                names.append(atom.name)
    return ViewerProtein(hashlib.sha256(data).hexdigest()[:16], pdb_text,
                         np.asarray(positions, dtype=float).reshape(-1, 3), np.asarray(residue_of_atom, dtype=int),
                         residues, names)
