"""Protein-ligand contacts of docked poses (ProLIF): hydrogen bonds, salt bridges, pi-stacking, cation-pi,
hydrophobic contacts, metal and halogen bonds, each with the residue and the atoms involved.

Types are ProLIF's names, read from the ligand's side: `HBDonor` = the ligand donates the hydrogen bond,
`HBAcceptor` = the ligand accepts it, `Cationic` / `Anionic` = the ligand is the cation / anion of a salt bridge,
`CationPi` = a ligand cation over a protein ring, `PiCation` = a ligand ring under a protein cation,
`PiStacking` (face-to-face or edge-to-face), `Hydrophobic`, `MetalAcceptor` = the ligand chelates a protein
metal ion, `MetalDonor` = a ligand metal, `XBDonor` / `XBAcceptor` = halogen bonds. ProLIF's default
geometry applies (e.g. donor-acceptor <= 3.5 A with a D-H...A angle of 130-180 degrees; ions <= 4.5 A).

Hydrogens: the receptor is protonated once per protein and pocket, only its residues within 12 A of the poses
of one call (`docking.contacts.receptor`, whose docstring says why the crop changes no contact); a pose
(heavy atoms, as `disco dock` writes them) gets its hydrogens from RDKit (`Chem.AddHs(addCoords=True)`), in
the ionisation state of the input molecule. Cofactors and other heterogens of the receptor file near the poses
(NADPH, FAD, ATP, sulfate...: `docking.contacts.cofactors`) are residues like the others, labelled with the
file's residue name and number (`Hydrophobic:NDP195.B`); a heterogen with the pose's heavy-atom formula is the
docked ligand's own copy in the file and gets no contacts. Reported atoms are heavy atoms: a hydrogen counts
as its parent, so ligand atom indices are those of the pose in poses.sdf (0-based) and protein atoms are names
in the user's residue.

Written per ligand as the SD property `interactions` of every pose (`interaction_summary`: the distinct
type:residue pairs, e.g. `HBDonor:ASP189.A;Hydrophobic:PHE41.A`) and as OUT/<name>/interactions.csv (one row
per contact: `INTERACTION_COLUMNS`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem

from disco_core.errors import InputError
from docking.contacts.cofactors import heavy_formula
from docking.contacts.receptor import CROP_MARGIN_A, EmptyPocket, PocketRegion

logger = logging.getLogger(__name__)

INTERACTION_TYPES = ("HBDonor", "HBAcceptor", "Cationic", "Anionic", "PiStacking", "CationPi", "PiCation",
                     "MetalAcceptor", "MetalDonor", "XBDonor", "XBAcceptor", "Hydrophobic")
HYDROGEN_BOND_TYPES = ("HBDonor", "HBAcceptor")
INTERACTION_COLUMNS = ["rank", "interaction", "residue", "chain", "residue_number", "ligand_atoms", "protein_atoms",
                       "distance_A"]


@dataclass(frozen=True)
class PoseInteraction:
    kind: str                          # one of INTERACTION_TYPES, the ligand's role
    residue: str                       # "ASP189.A" (insertion code after the number: "LEU82A.H")
    chain: str
    residue_number: str                # "189", "82A"
    ligand_atoms: tuple[int, ...]      # heavy-atom indices of the pose (0-based, poses.sdf order)
    protein_atoms: tuple[str, ...]     # heavy-atom names in the residue ("OD1", "OD2")
    distance: float                    # A, as ProLIF measures the interaction (e.g. donor-acceptor)


def _heavy_parent(atom: Chem.Atom) -> int:
    """A hydrogen's bonded heavy atom (a contact through a hydrogen is reported on its parent)."""
    if atom.GetAtomicNum() == 1 and atom.GetDegree() == 1:
        return atom.GetNeighbors()[0].GetIdx()
    return atom.GetIdx()


def _unique(values) -> tuple:
    return tuple(dict.fromkeys(values))


class InteractionProfiler:
    """ProLIF's fingerprint of poses against receptors protonated once per protein file and pocket: the residues
    within `crop_margin` A of the poses of a `pose_interactions` call (None: the whole protein). A later call
    whose poses lie inside a cached pocket (`PocketRegion.covers`) reuses it, so the poses of one docking run
    share one protonation; a pose outside makes a new crop. The last `cache_size` receptors are kept. A protein
    that cannot be prepared is remembered as such, whatever the pocket, so that it costs one attempt (the
    causes are mostly the file's: unreadable, no polymer, residues PDBFixer or OpenMM have no template for)."""

    def __init__(self, cache_size: int = 4, crop_margin: float | None = CROP_MARGIN_A):
        from docking.contacts.receptor import import_prolif

        try:
            prolif = import_prolif()
        except ImportError:
            raise InputError("interactions", "need ProLIF (pip install prolif), or run with --no-interactions") \
                from None

        self._fingerprint = prolif.Fingerprint(list(INTERACTION_TYPES), count=True)
        # (protein file, region key) -> (region, receptor); region None: the whole protein
        self._receptors: OrderedDict[tuple, tuple[PocketRegion | None, object]] = OrderedDict()
        self._failures: OrderedDict[str, InputError] = OrderedDict()
        self._cache_size = cache_size
        self.crop_margin = crop_margin

    def regions(self, protein_path: str | Path) -> list[PocketRegion | None]:
        """The pockets (PocketRegion; None for the whole protein) cached for a protein, oldest first."""
        path = str(Path(protein_path).resolve())
        return [region for (cached, _), (region, _) in self._receptors.items() if cached == path]

    def receptor(self, protein_path: str | Path, region: PocketRegion | None = None):
        """The protonated receptor (an InteractionReceptor) of the residues near `region` (a PocketRegion;
        None: the whole protein); raises InputError when it cannot be prepared, EmptyPocket when no residue is
        near the region."""
        from docking.contacts.receptor import prolif_receptor    # looked up per call: tests replace it

        path = str(Path(protein_path).resolve())
        if path in self._failures:
            raise self._failures[path]
        for key, (cached, receptor) in reversed(self._receptors.items()):
            if key[0] == path and (cached is None or (region is not None and cached.covers(region))):
                self._receptors.move_to_end(key)
                return receptor
        try:
            receptor = prolif_receptor(protein_path) if region is None else prolif_receptor(protein_path, crop=region)
        except EmptyPocket:
            raise
        except InputError as exc:
            self._failures[path] = exc
            while len(self._failures) > self._cache_size:
                self._failures.popitem(last=False)
            raise
        self._receptors[(path, None if region is None else region.key)] = (region, receptor)
        while len(self._receptors) > self._cache_size:
            self._receptors.popitem(last=False)
        return receptor

    def pose_interactions(self, protein_path: str | Path, poses: list[Chem.Mol],
                          name: str = "ligand") -> list[list[PoseInteraction]]:
        """The contacts of each pose, in a stable order (type, residue, atoms). The protein is protonated around
        all the poses together. InputError names the protein or the ligand when ProLIF cannot handle it."""
        if not poses:
            return []
        region = None
        if self.crop_margin is not None:
            try:
                region = PocketRegion.around_poses(poses, self.crop_margin)
            except ValueError as exc:      # RDKit: a pose without coordinates
                raise InputError(name, f"a pose has no coordinates for interactions ({exc})") from None
        try:
            receptor = self.receptor(protein_path, region)
        except EmptyPocket:
            return [[] for _ in poses]         # no residue within the margin: no contact either
        return [self._contacts(receptor, pose, name) for pose in poses]

    def _contacts(self, receptor, pose: Chem.Mol, name: str) -> list[PoseInteraction]:
        from docking.contacts.receptor import first_line, import_prolif

        prolif = import_prolif()
        protein = receptor.molecule
        try:
            ligand = prolif.Molecule.from_rdkit(Chem.AddHs(pose, addCoords=True))
            fingerprint = self._fingerprint.generate(ligand, protein, metadata=True)
        except Exception as exc:   # RDKit and ProLIF raise several types for molecules they reject
            raise InputError(name, f"ProLIF cannot compute its interactions ({first_line(exc)})") from None
        contacts = []
        formula = heavy_formula(a.GetSymbol() for a in pose.GetAtoms())
        for (_, residue_id), found in fingerprint.items():
            if receptor.is_copy_of(residue_id, formula):
                continue                       # the docked ligand's own copy in the receptor file
            label, chain, number = receptor.label(residue_id)
            for kind, occurrences in found.items():
                for metadata in occurrences:
                    indices = metadata["parent_indices"]
                    ligand_atoms = _unique(_heavy_parent(ligand.GetAtomWithIdx(i)) for i in indices["ligand"])
                    protein_atoms = _unique(
                        protein.GetAtomWithIdx(_heavy_parent(protein.GetAtomWithIdx(i))).GetPDBResidueInfo()
                        .GetName().strip() for i in indices["protein"])
                    contacts.append(PoseInteraction(kind, label, chain, number, ligand_atoms, protein_atoms,
                                                    float(metadata.get("distance", math.nan))))
        order = {kind: i for i, kind in enumerate(INTERACTION_TYPES)}
        return sorted(contacts, key=lambda c: (order[c.kind], c.chain, _number_key(c.residue_number), c.residue,
                                               c.ligand_atoms, c.protein_atoms))


def _number_key(number: str) -> tuple[int, str]:
    digits = number.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    return (int(digits) if digits.lstrip("-").isdigit() else 0, number[len(digits):])


def interaction_pairs(contacts: list[PoseInteraction]) -> list[tuple[str, str]]:
    """The distinct (type, residue) pairs of a pose's contacts, in their order."""
    return list(dict.fromkeys((c.kind, c.residue) for c in contacts))


def interaction_summary(contacts: list[PoseInteraction]) -> str:
    """The SD property `interactions`: distinct type:residue pairs joined by ';' ('' when there are none)."""
    return ";".join(f"{kind}:{residue}" for kind, residue in interaction_pairs(contacts))


def parse_interaction_summary(text: str) -> list[tuple[str, str]]:
    """The (type, residue) pairs of an `interactions` SD property or summary cell."""
    return [tuple(item.split(":", 1)) for item in text.split(";") if ":" in item]


def interactions_csv_text(per_pose: list[list[PoseInteraction]]) -> str:
    """interactions.csv: one row per contact of each pose (rank 1 first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(INTERACTION_COLUMNS)
    for rank, contacts in enumerate(per_pose, start=1):
        for c in contacts:
            writer.writerow([rank, c.kind, c.residue, c.chain, c.residue_number,
                             " ".join(str(i) for i in c.ligand_atoms), " ".join(c.protein_atoms),
                             "nan" if math.isnan(c.distance) else f"{c.distance:.2f}"])
    return buffer.getvalue()


def read_interactions_csv(path: str | Path) -> list[dict]:
    """The rows of an interactions.csv, typed (rank int, atoms as lists, distance float)."""
    with Path(path).open(newline="") as handle:
        return [{**row, "rank": int(row["rank"]), "distance_A": float(row["distance_A"]),
                 "ligand_atoms": [int(i) for i in row["ligand_atoms"].split()],
                 "protein_atoms": row["protein_atoms"].split()} for row in csv.DictReader(handle)]
