"""One complex in memory: receptor + ligand -> the dict of plain tensors the cache stores.

`prepare_receptor` is separate so that a receptor can be parsed once and reused for many ligands
(virtual screening); `featurize_pair` is what `disco dock` calls for user inputs, and what the
cache builder calls per job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from disco_core.errors import InputError

from .conformer_matching import match_conformer
from .esm import embeddings_for_receptor
from .ligand import LigandInput, generate_conformer, read_ligand
from .ligand_features import atom_features, bond_graph
from .protein import DEFAULT_MAX_RESIDUES, ReceptorStructure, read_receptor
from .torsions import rotatable_bonds

FORMAT_VERSION = 1


class StageError(InputError):
    """An InputError tagged with the processing stage it came from (for failures.csv)."""

    def __init__(self, stage: str, item: str, reason: str):
        self.stage = stage
        super().__init__(item, reason)


@dataclass
class FeaturizeOptions:
    seed: int = 0
    max_residues: int = DEFAULT_MAX_RESIDUES
    conformer_timeout_s: float = 60.0
    match_restarts: int = 6


def _f32(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float32))


def prepare_receptor(protein_path: str | Path, max_residues: int = DEFAULT_MAX_RESIDUES,
                     esm_embeddings: dict | None = None, esm_keys: list[str] | None = None) -> dict:
    """The receptor part of a complex (rec_* tensors), from a PDB/mmCIF file."""
    structure = read_receptor(protein_path, max_residues=max_residues)
    return receptor_features(structure, protein_path, esm_embeddings, esm_keys)


def receptor_features(structure: ReceptorStructure, protein_path: str | Path, esm_embeddings: dict | None = None,
                      esm_keys: list[str] | None = None) -> dict:
    """The receptor part of a complex (rec_* tensors, and `source_protein`) of a parsed structure."""
    receptor = {
        "rec_residue_type": torch.as_tensor(structure.residue_type, dtype=torch.long),
        "rec_pos": _f32(structure.ca_pos),
        "rec_n_pos": _f32(structure.n_pos),
        "rec_c_pos": _f32(structure.c_pos),
        "rec_residue_ids": list(structure.residue_ids),
        "rec_sequences": structure.chain_sequences(),
        "rec_counts": dict(structure.counts),
        "source_protein": str(protein_path),
    }
    if esm_embeddings is not None:
        keys = list(esm_keys or []) + [Path(protein_path).name.split(".")[0]]
        receptor["rec_esm"] = embeddings_for_receptor(esm_embeddings, keys, structure.chain_ids,
                                                      receptor["rec_sequences"], str(protein_path))
    return receptor


def featurize_ligand(ligand: LigandInput, options: FeaturizeOptions = FeaturizeOptions(),
                     use_pose: bool | None = None, name: str = "ligand") -> dict:
    """The ligand part of a complex: features, rotatable bonds + masks, RDKit conformer, and, when the
    input carries a pose (`use_pose` defaults to that), conformer matching against it."""
    mol = ligand.mol
    n_atoms = mol.GetNumAtoms()
    bond_index, bond_attr = bond_graph(mol)
    bonds, masks = rotatable_bonds(mol)
    try:
        conformer = generate_conformer(mol, seed=options.seed, timeout_s=options.conformer_timeout_s, name=name)
    except InputError as exc:
        raise StageError("conformer", name, exc.reason) from exc
    out = {
        "ligand_smiles": Chem.MolToSmiles(mol),
        "lig_atom_features": atom_features(mol),
        "lig_bond_index": bond_index,
        "lig_bond_features": bond_attr,
        "lig_pos_conformer": _f32(conformer - conformer.mean(0)),
        "rot_bonds": torch.as_tensor(bonds, dtype=torch.long).reshape(-1, 2),
        "rot_masks": torch.as_tensor(masks, dtype=torch.bool).reshape(-1, n_atoms),
        "ligand_read_with": ligand.how,
    }
    use_pose = ligand.has_pose if use_pose is None else use_pose
    if use_pose:
        crystal = mol.GetConformer().GetPositions()
        try:
            result = match_conformer(conformer, crystal, bonds, masks, restarts=options.match_restarts,
                                     seed=options.seed)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise StageError("matching", name, f"conformer matching failed: {exc}") from exc
        out.update({"lig_pos_crystal": _f32(crystal), "lig_pos_matched": _f32(result.matched_pos),
                    "matched_rmsd": float(result.matched_rmsd), "unmatched_rmsd": float(result.unmatched_rmsd),
                    "pocket_center": _f32(crystal.mean(0))})
        out["ligand_molblock"] = Chem.MolToMolBlock(mol)
    else:
        placed = Chem.Mol(mol)
        placed.RemoveAllConformers()
        conf = Chem.Conformer(n_atoms)
        for i, xyz in enumerate(conformer.astype(float)):
            conf.SetAtomPosition(i, xyz.tolist())
        placed.AddConformer(conf, assignId=True)
        out["ligand_molblock"] = Chem.MolToMolBlock(placed)
    return out


def featurize_pair(protein: str | Path | dict, ligand: str | Path | LigandInput, name: str = "complex",
                   options: FeaturizeOptions = FeaturizeOptions(), use_pose: bool | None = None,
                   ligand_fallbacks: tuple[str, ...] = (), esm_embeddings: dict | None = None) -> dict:
    """One complex in memory, in the cache's item format (no file written).

    `protein` is a path or a dict from `prepare_receptor` (reuse it across ligands); `ligand` is a
    path, a SMILES, or a LigandInput. A SMILES has no pose, so no matched/crystal pose is returned.
    Raises StageError (an InputError) naming the stage: protein, ligand, conformer, matching."""
    if isinstance(protein, dict):
        receptor, protein_source = protein, protein.get("source_protein", "")
    else:
        try:
            receptor = prepare_receptor(protein, options.max_residues, esm_embeddings, [name])
        except StageError:
            raise
        except InputError as exc:
            stage = "esm" if "ESM" in exc.reason else "protein"
            raise StageError(stage, exc.item, exc.reason) from exc
        protein_source = str(protein)
    if isinstance(ligand, LigandInput):
        ligand_input = ligand
    else:
        try:
            ligand_input = read_ligand(str(ligand), ligand_fallbacks)
        except InputError as exc:
            raise StageError("ligand", exc.item, exc.reason) from exc
    item = {"name": name, "format_version": FORMAT_VERSION,
            "source": {"protein": protein_source, "ligand": ligand_input.source}}
    item.update(featurize_ligand(ligand_input, options, use_pose=use_pose, name=name))
    item.update({k: v for k, v in receptor.items() if k.startswith("rec_")})
    return item
