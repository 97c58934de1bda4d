"""One ligand's part of the run report, read from its output folder: the ranked poses of OUT/<name>/poses.sdf
with their SD properties, the contacts of OUT/<name>/interactions.csv placed in space (a line from the
ligand atoms to the protein atoms of each contact), and the pocket residues around the top pose.

Nothing here recomputes a pose property: the report shows what the run wrote."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rdkit import Chem

from docking.inference.interactions import read_interactions_csv
from docking.inference.report_protein import ViewerProtein

# Pose properties the report's pose table shows, in this order, when the poses carry them (outputs.pose_properties
# and docking.inference.postprocess name them); label and how to show the value.
POSE_COLUMNS = [("rank", "rank"), ("interaction_energy", "energy (kcal/mol)"),
                ("intermolecular_energy", "intermolecular (kcal/mol)"),
                ("sampled_interaction_energy", "sampled energy"),
                ("sampled_intermolecular_energy", "sampled intermolecular"),
                ("vina_score_kcal_mol", "Vina (kcal/mol)"), ("confidence", "confidence"),
                ("pb_valid", "PoseBusters"), ("relaxed", "relaxed")]


RECORD_END = re.compile(r"^\$\$\$\$[^\n]*\n?", re.M)


def sd_records(text: str) -> list[tuple[str, dict[str, str]]]:
    """(mol block, SD properties) of each record of an SDF text, exactly as written."""
    records = []
    for chunk in RECORD_END.split(text):     # a record's first line is its title, which may be empty
        if "M  END" not in chunk:
            continue
        end = chunk.index("M  END") + len("M  END")
        molblock, rest = chunk[:end] + "\n", chunk[end:]
        properties, key, lines = {}, None, []
        for line in rest.splitlines():
            if line.startswith(">") and "<" in line and ">" in line[1:]:
                key, lines = line[line.index("<") + 1:line.rindex(">")], []
            elif key is not None and line.strip() == "":
                properties[key], key = "\n".join(lines), None
            elif key is not None:
                lines.append(line)
        if key is not None:
            properties[key] = "\n".join(lines)
        records.append((molblock, properties))
    return records


def _positions(molblock: str) -> np.ndarray:
    mol = Chem.MolFromMolBlock(molblock, sanitize=False, removeHs=False)
    if mol is None or mol.GetNumConformers() == 0:
        return np.zeros((0, 3))
    return mol.GetConformer().GetPositions()


def _point(values) -> list[float] | None:
    return None if values is None or len(values) == 0 else [round(float(v), 3) for v in np.mean(values, axis=0)]


def ligand_report_data(folder: Path, name: str, protein: ViewerProtein | None,
                       protein_note: str | None = None) -> dict:
    """What the page needs to show one ligand: its poses (rank 1 first), their table and contacts, its pocket."""
    poses_path = folder / "poses.sdf"
    records = sd_records(poses_path.read_text()) if poses_path.is_file() else []
    notes = [protein_note] if protein_note else []
    if not records:
        notes.append(f"{poses_path.name} is missing or holds no pose")
    contacts_path = folder / "interactions.csv"
    contacts_by_rank: dict[int, list[dict]] = {}
    if contacts_path.is_file():
        for row in read_interactions_csv(contacts_path):
            contacts_by_rank.setdefault(row["rank"], []).append(row)
    elif records and records[0][1].get("interactions_error"):
        notes.append("interactions: " + records[0][1]["interactions_error"])
    elif records:
        notes.append("interactions were not computed (the run had --no-interactions)")
    poses = []
    for rank, (molblock, properties) in enumerate(records, start=1):
        positions = _positions(molblock)
        if len(positions) == 0:
            notes.append(f"pose {rank}: RDKit cannot read its coordinates in {poses_path.name}")
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
    pocket = protein.pocket_residues(_positions(records[0][0])) if protein is not None and records else []
    columns = [[key, label] for key, label in POSE_COLUMNS if any(key in p["properties"] for p in poses)]
    return {"name": name, "protein": protein.key if protein is not None else None, "pocket": pocket,
            "columns": columns, "poses": poses, "notes": notes}
