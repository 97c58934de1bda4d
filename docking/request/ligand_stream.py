"""The ligands of a `disco dock` run as a stream of (name, ligand or error), never all in memory.

A SMILES string is one ligand; an SDF is one ligand per record (read lazily, so a 10,000-molecule
screen uses constant memory); a MOL2/MOL file is one ligand; a .smi/.txt file is one SMILES per line
("SMILES [name]"). A record RDKit rejects becomes an error entry, so the rest of the file still docks.
Names come from the record (SDF title, .smi name) or the file and are made unique and file-safe.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rdkit import Chem

from data_prep.inputs import safe_name
from data_prep.ligand import LigandInput, read_ligand, read_smiles, sanitize_ligand
from disco_core.errors import InputError

SMILES_LIST_SUFFIXES = (".smi", ".smiles", ".txt")
# Folders of a run folder that are not a ligand's (docking.report.page.ASSETS): a ligand of that name
# gets _2, so its poses never land among the report's files.
RESERVED_FOLDERS = ("report_assets",)


@dataclass
class LigandEntry:
    name: str                        # unique, file-safe: the output folder's name
    description: str                 # where it came from (file#record or the SMILES)
    ligand: LigandInput | None
    error: str | None = None


class UniqueNames:
    """File-safe names that never collide, with each other or with the run folder's own folders: a repeated
    name gets _2, _3, ..."""

    def __init__(self):
        self._seen: set[str] = set(RESERVED_FOLDERS)

    def __call__(self, name: str) -> str:
        base = safe_name(name.strip() or "ligand")
        candidate, n = base, 1
        while candidate.lower() in self._seen:     # case-insensitive file systems
            n += 1
            candidate = f"{base}_{n}"
        self._seen.add(candidate.lower())
        return candidate


def _sdf_records(path: Path) -> Iterator[tuple[int, Chem.Mol | None]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        supplier = Chem.ForwardSDMolSupplier(handle, sanitize=False, removeHs=False)
        for index, raw in enumerate(supplier):
            yield index, raw


def count_ligands(description: str) -> int | None:
    """How many ligands a description holds (for the progress bar), counted without parsing."""
    path = Path(description)
    if not path.is_file():
        return 1
    name = path.name.lower()
    if name.endswith((".sdf", ".sdf.gz")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            return sum(1 for line in handle if line.startswith(b"$$$$")) or 1
    if name.endswith(SMILES_LIST_SUFFIXES):
        return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
    return 1


def stream_ligands(description: str, names: UniqueNames, default_name: str | None = None) -> Iterator[LigandEntry]:
    """Entries of a ligand description (see the module docstring)."""
    text = str(description).strip()
    path = Path(text)
    lower = path.name.lower()
    if text and path.is_file() and lower.endswith((".sdf", ".sdf.gz")):
        stem = path.name.split(".")[0]
        index = -1
        for index, raw in _sdf_records(path):
            title = raw.GetProp("_Name").strip() if raw is not None and raw.HasProp("_Name") else ""
            label = f"{path.name}#{index + 1}"
            name = names(title or (default_name if index == 0 and default_name else f"{stem}_{index + 1}"))
            try:
                mol = sanitize_ligand(raw, repair=False) if raw is not None else None
            except Exception:
                mol = None
            if mol is None:
                try:
                    mol = sanitize_ligand(raw, repair=True)
                except Exception as exc:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "RDKit rejects the record"
                    yield LigandEntry(name, label, None, f"{label}: SDF record cannot be read or sanitised ({reason})")
                    continue
            yield LigandEntry(name, label, LigandInput(mol=mol, source=label, has_pose=False, how="sdf"))
        if index < 0:
            yield LigandEntry(names(default_name or stem), path.name, None, "the SDF holds no molecule records")
        return
    if text and path.is_file() and lower.endswith(SMILES_LIST_SUFFIXES):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            label = f"{path.name}:{number}"
            name = names(fields[1] if len(fields) > 1 else f"{path.stem}_{number}")
            try:
                yield LigandEntry(name, label, read_smiles(fields[0]))
            except InputError as exc:
                yield LigandEntry(name, label, None, f"{label}: {exc.reason} ({fields[0]!r})")
        return
    name = names(default_name or (path.stem if path.suffix else "ligand"))
    try:
        yield LigandEntry(name, text, read_ligand(text))
    except InputError as exc:
        yield LigandEntry(name, text, None, str(exc))


def as_ligand_input(ligand: str | Path | Chem.Mol | LigandInput, name: str) -> LigandInput:
    if isinstance(ligand, LigandInput):
        return ligand
    if isinstance(ligand, Chem.Mol):
        try:
            mol = Chem.RemoveHs(ligand, sanitize=True)
        except Exception as exc:   # RDKit raises several types for chemistry it rejects
            raise InputError(name, f"RDKit rejects the molecule ({str(exc).splitlines()[0] if str(exc) else exc})")
        if mol.GetNumAtoms() == 0:
            raise InputError(name, "molecule has no heavy atoms")
        return LigandInput(mol=mol, source=name, has_pose=False, how="rdkit")
    return read_ligand(str(ligand))
