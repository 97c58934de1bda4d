"""One ligand's part of the run report, read from its output folder: the ranked poses of OUT/<name>/poses.sdf
with their SD properties, the contacts of OUT/<name>/interactions.csv placed in space (a line from the
ligand atoms to the protein atoms of each contact), the pocket residues around the top pose, and, for a blind
run, the candidate sites of OUT/<name>/sites.csv (and the site of each pose in the pose table).

Nothing here recomputes a pose property: the report shows what the run wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rdkit import Chem

from docking.contacts.profiler import read_interactions_csv
from docking.pose_record import CHECK_LABELS, SITES_FILE, VALUE_LABELS, read_pose_records, read_sites_csv
from docking.report.protein import ViewerProtein

# the pose table's columns, in this order, when the poses carry them: rank, the per-pose values, then checks
POSE_COLUMNS = [("rank", "rank"), *VALUE_LABELS.items(), *CHECK_LABELS.items()]


def pose_blocks(path: Path) -> list[tuple[str, np.ndarray | None, dict[str, str]]]:
    """(mol block for the viewer, atom positions or None where RDKit cannot read the record, SD properties) of
    each pose of a poses SDF, read by RDKit as written."""
    poses = []
    for mol, properties in read_pose_records(path):
        if mol is None or mol.GetNumConformers() == 0:
            poses.append(("", None, properties))
            continue
        poses.append((Chem.MolToMolBlock(mol, kekulize=False), mol.GetConformer().GetPositions(), properties))
    return poses


def _point(values) -> list[float] | None:
    return None if values is None or len(values) == 0 else [round(float(v), 3) for v in np.mean(values, axis=0)]


def ligand_report_data(folder: Path, name: str, protein: ViewerProtein | None,
                       protein_note: str | None = None) -> dict:
    """What the page needs to show one ligand: its poses (rank 1 first), their table and contacts, its pocket."""
    poses_path = folder / "poses.sdf"
    records = pose_blocks(poses_path) if poses_path.is_file() else []
    notes = [protein_note] if protein_note else []
    if not records:
        notes.append(f"{poses_path.name} is missing or holds no pose")
    contacts_path = folder / "interactions.csv"
    contacts_by_rank: dict[int, list[dict]] = {}
    if contacts_path.is_file():
        for row in read_interactions_csv(contacts_path):
            contacts_by_rank.setdefault(row["rank"], []).append(row)
    elif records and records[0][2].get("interactions_error"):
        notes.append("interactions: " + records[0][2]["interactions_error"])
    elif records:
        notes.append("interactions were not computed (the run had --no-interactions)")
    poses = []
    for rank, (molblock, positions, properties) in enumerate(records, start=1):
        if positions is None:
            notes.append(f"pose {rank}: RDKit cannot read its coordinates in {poses_path.name}")
            positions = np.zeros((0, 3))
        contacts = []
        for row in contacts_by_rank.get(rank, []):
            ligand = [positions[i] for i in row["ligand_atoms"] if i < len(positions)]
            found = [] if protein is None else [protein.atom_position(row["chain"], row["residue_number"], atom)
                                                for atom in row["protein_atoms"]]
            found = [p for p in found if p is not None]
            contacts.append({"kind": row["interaction"], "residue": row["residue"], "ligand_atoms": row["ligand_atoms"],
                             "protein_atoms": row["protein_atoms"], "distance": row["distance_A"],
                             "from": _point(ligand), "to": _point(found)})
        poses.append({"molblock": molblock, "properties": properties, "contacts": contacts})
    top = records[0][1] if records and records[0][1] is not None else np.zeros((0, 3))
    pocket = protein.pocket_residues(top) if protein is not None and records else []
    columns = [[key, label] for key, label in POSE_COLUMNS if any(key in p["properties"] for p in poses)]
    sites = blind_sites(folder / SITES_FILE)
    if sites and columns:
        columns.insert(1, ["site", "site"])
    return {"name": name, "protein": protein.key if protein is not None else None, "pocket": pocket,
            "columns": columns, "poses": poses, "notes": notes, "sites": sites}


def blind_sites(path: Path) -> list[dict]:
    """The candidate sites of a blind run's sites.csv as the page shows them (none when the file is absent:
    the site was given)."""
    if not path.is_file():
        return []
    return [{"rank": row["rank"], "site": row["site"],
             "center": [float(row[f"center_{axis}"]) for axis in "xyz"], "score": row["score"],
             "volume": row["volume_A3"], "docked": row["docked"] == "True", "poses": row["poses"],
             "best_pose_rank": row["best_pose_rank"], "residues": row["residues"].split()}
            for row in read_sites_csv(path)]
