"""What a run docks, one `DockJob` per ligand in input order: from a request (`--ligand`/`--protein` or a CSV of
pairs, each file expanded to its molecules) or from the Python API's list of ligands. Both number ligands and
make their names unique the same way, so the CLI and the API write the same folders."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from rdkit import Chem

from data_prep.inputs import csv_jobs
from disco_core.errors import InputError
from docking.request.dock_request import DockRequest
from docking.request.ligand_stream import LigandEntry, UniqueNames, as_ligand_input, stream_ligands


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_input(value):
    """How run.json names an input: a file by {"file", "sha256"}, anything else (a SMILES, a number) as it is."""
    if isinstance(value, (str, Path)) and str(value).strip() and Path(str(value).strip()).is_file():
        path = Path(str(value).strip())
        return {"file": str(path.resolve()), "sha256": file_digest(path)}
    return json.loads(json.dumps(value))       # tuples as lists: what reading run.json back gives


@dataclass
class DockJob:
    index: int
    protein: str
    entry: LigandEntry


def dock_jobs(request: DockRequest) -> Iterator[DockJob]:
    """The request's ligands in input order, each with its protein (a bad one carries its error)."""
    names = UniqueNames()
    index = 0
    if request.csv:
        pairs = [(job.protein_path, job.ligand, job.name, job.input_error)
                 for job in csv_jobs(request.csv, allow_duplicate_names=True)]
        if not pairs:
            raise InputError(request.csv, "the CSV has a header but no rows to dock")
    else:
        pairs = [(request.protein, request.ligand, request.name, None)]
    for protein, ligand, name, error in pairs:
        if error:
            yield DockJob(index, protein, LigandEntry(names(name or "ligand"), ligand, None, f"{name}: {error}"))
            index += 1
            continue
        for entry in stream_ligands(ligand, names, name):
            yield DockJob(index, protein, entry)
            index += 1


def ligand_jobs(protein: str, ligands, names: Sequence[str] | None) -> tuple[list[DockJob], list]:
    """The jobs of `ligands` in order (a file expands to its molecules), and how run.json describes them."""
    items = [ligands] if isinstance(ligands, (str, Path, Chem.Mol)) else list(ligands)
    if names is not None and len(names) != len(items):
        raise InputError("names", f"{len(names)} name(s) for {len(items)} ligand item(s)")
    unique = UniqueNames()
    jobs: list[DockJob] = []
    described = []
    for number, item in enumerate(items):
        name = names[number] if names is not None else None
        if isinstance(item, Chem.Mol):
            title = item.GetProp("_Name").strip() if item.HasProp("_Name") else ""
            entry_name, label = unique(name or title or "ligand"), f"molecule #{number + 1}"
            try:
                entry = LigandEntry(entry_name, label, as_ligand_input(item, entry_name))
            except InputError as exc:
                entry = LigandEntry(entry_name, label, None, str(exc))
            entries = [entry]
            described.append({"molecule": hashlib.sha256(Chem.MolToMolBlock(item).encode()).hexdigest()})
        else:
            entries = list(stream_ligands(str(item), unique, name))
            described.append(describe_input(str(item)))
        jobs += [DockJob(len(jobs) + k, protein, entry) for k, entry in enumerate(entries)]
    return jobs, described
