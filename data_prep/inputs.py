"""Where complexes come from -> a list of jobs with unique, filesystem-safe names.

Three shapes of input: a PDBbind-style directory, a DiffDock-style CSV, one protein + one ligand.
Problems found while listing (a folder without a ligand, a duplicate name, an id in the split file
with no folder) do not stop the listing: the job carries `input_error` and becomes a failures.csv
row, so the rest of the batch still runs.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from disco_core.errors import InputError

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
PROTEIN_SUFFIXES = (".pdb", ".cif", ".mmcif", ".ent", ".pdb.gz", ".cif.gz")


@dataclass
class ComplexJob:
    """One complex to process. `ligand` is a path or a SMILES string."""

    name: str
    protein_path: str
    ligand: str
    ligand_fallbacks: tuple[str, ...] = ()
    protein_sequence: str | None = None
    input_error: str | None = None
    safe_name: str = field(default="")

    def __post_init__(self):
        if not self.safe_name:
            self.safe_name = safe_name(self.name)


def safe_name(name: str) -> str:
    """A file name for `name`; names that needed changing get a short hash so two never collide."""
    cleaned = _SAFE.sub("_", name).strip("._") or "complex"
    if cleaned != name:
        cleaned = f"{cleaned[:80]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return cleaned


def read_split(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "split file not found")
    names = [line.strip() for line in path.read_text().splitlines()]
    return [n for n in names if n and not n.startswith("#")]


def pdbbind_jobs(root: str | Path, split: str | Path | None = None) -> list[ComplexJob]:
    """One job per `<id>/` folder (or per id of `split`): `<id>_protein_processed.pdb` before
    `<id>_protein.pdb` (or .cif), `<id>_ligand.sdf` with `<id>_ligand.mol2` as the fallback."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "PDBbind directory not found")
    names = read_split(split) if split else sorted(p.name for p in root.iterdir() if p.is_dir())
    jobs, seen = [], set()
    for name in names:
        folder = root / name
        if name in seen:
            continue
        seen.add(name)
        if not folder.is_dir():
            jobs.append(ComplexJob(name, "", "", input_error=f"no folder {folder}"))
            continue
        protein = next((folder / f"{name}{suffix}" for suffix in
                        ("_protein_processed.pdb", "_protein.pdb", "_protein.cif", "_protein.pdb.gz")
                        if (folder / f"{name}{suffix}").is_file()), None)
        sdf, mol2 = folder / f"{name}_ligand.sdf", folder / f"{name}_ligand.mol2"
        ligand, fallbacks = (sdf, (str(mol2),) if mol2.is_file() else ()) if sdf.is_file() else (mol2, ())
        error = None
        if protein is None:
            error = f"no {name}_protein.pdb / _protein_processed.pdb in {folder}"
        elif not ligand.is_file():
            error = f"no {name}_ligand.sdf or {name}_ligand.mol2 in {folder}"
        jobs.append(ComplexJob(name, str(protein or ""), str(ligand), fallbacks, input_error=error))
    return jobs


def _resolve(path_text: str, base: Path) -> str:
    """A relative path as written in a CSV: from the working directory, else next to the CSV."""
    path = Path(path_text)
    if path.is_absolute() or path.exists() or not (base / path).exists():
        return path_text
    return str(base / path)


def csv_jobs(csv_path: str | Path, allow_duplicate_names: bool = False) -> list[ComplexJob]:
    """DiffDock's CSV: complex_name, protein_path, ligand_description[, protein_sequence].

    A repeated complex_name is an input error for the later rows (their cache items would collide),
    unless `allow_duplicate_names` (the caller makes output names unique itself)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise InputError(str(csv_path), "CSV file not found")
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = {"protein_path", "ligand_description"} - set(header)
        if missing:
            raise InputError(str(csv_path), f"CSV lacks column(s) {', '.join(sorted(missing))} "
                                            f"(expected complex_name, protein_path, ligand_description)")
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    base = csv_path.parent
    jobs, first_row = [], {}
    used_safe: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        name = row.get("complex_name") or f"complex_{line - 1}"
        protein = row.get("protein_path", "")
        ligand = row.get("ligand_description", "")
        error = None
        if name in first_row and not allow_duplicate_names:
            error = f"duplicate complex_name {name!r} (first on CSV line {first_row[name]}); names must be unique"
            name = f"{name}@line{line}"
        elif name not in first_row:
            first_row[name] = line
        if not protein:
            error = error or "empty protein_path"
        if not ligand:
            error = error or "empty ligand_description"
        job = ComplexJob(name, _resolve(protein, base) if protein else "",
                         _resolve(ligand, base) if ligand else ligand,
                         protein_sequence=row.get("protein_sequence") or None, input_error=error)
        if job.safe_name in used_safe:  # two distinct names that clean to one file name
            job.safe_name = f"{job.safe_name}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
        used_safe[job.safe_name] = name
        jobs.append(job)
    return jobs


def single_job(protein_path: str | Path, ligand: str, name: str | None = None) -> ComplexJob:
    if not name:
        ligand_stem = Path(ligand).stem if Path(ligand).suffix else "smiles"
        name = f"{Path(protein_path).name.split('.')[0]}__{ligand_stem}"
    return ComplexJob(name, str(protein_path), str(ligand))
