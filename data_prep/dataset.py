"""Cached complexes -> torch_geometric HeteroData, and a Dataset over a cache folder.

Node types: 'ligand' (heavy atoms) and 'receptor' (C-alpha residues). The ligand pose is the
caller's choice: 'matched' (training target), 'crystal' (evaluation) or 'conformer' (sampling start).
Rotatable bonds are an edge type so PyG offsets their atom indices when batching; their masks travel
flattened (`rot_mask_flat`), reshape per graph with `rotation_masks_per_graph`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch_geometric.data import HeteroData

from disco_core.errors import InputError
from disco_core.graph_ops import radius_graph

from .cache import load_item
from .inputs import read_split, safe_name

POSES = ("matched", "crystal", "conformer")
DEFAULT_RECEPTOR_RADIUS = 15.0          # Angstrom, DiffDock's receptor graph cutoff
DEFAULT_RECEPTOR_MAX_NEIGHBORS = 24


def receptor_edges(pos: torch.Tensor, radius: float = DEFAULT_RECEPTOR_RADIUS,
                   max_neighbors: int = DEFAULT_RECEPTOR_MAX_NEIGHBORS) -> torch.Tensor:
    """Residue-residue radius edges (source, target), at most `max_neighbors` per target."""
    return radius_graph(pos, radius, max_num_neighbors=max_neighbors)


def item_to_heterodata(item: dict, pose: str = "matched", receptor_radius: float | None = DEFAULT_RECEPTOR_RADIUS,
                       receptor_max_neighbors: int = DEFAULT_RECEPTOR_MAX_NEIGHBORS) -> HeteroData:
    """One cached item as a HeteroData graph with the ligand at `pose`. Items made from a SMILES have
    only the 'conformer' pose; asking them for 'matched' or 'crystal' is an InputError."""
    if pose not in POSES:
        raise ValueError(f"pose must be one of {POSES}, got {pose!r}")
    key = f"lig_pos_{pose}"
    if key not in item:
        raise InputError(item.get("name", "?"), f"item has no {pose} pose (no crystal/reference ligand pose)")
    data = HeteroData()
    n_atoms = item["lig_atom_features"].shape[0]
    data["ligand"].x = item["lig_atom_features"]
    data["ligand"].pos = item[key].float()
    data["ligand"].pos_conformer = item["lig_pos_conformer"].float()
    data["ligand"].rot_mask_flat = item["rot_masks"].reshape(-1)
    data["ligand"].num_nodes = n_atoms
    data["ligand", "bond", "ligand"].edge_index = item["lig_bond_index"]
    data["ligand", "bond", "ligand"].edge_attr = item["lig_bond_features"]
    data["ligand", "rot", "ligand"].edge_index = item["rot_bonds"].reshape(-1, 2).T.contiguous()
    rec_pos = item["rec_pos"].float()
    data["receptor"].x = item["rec_residue_type"][:, None]
    data["receptor"].pos = rec_pos
    data["receptor"].side_vectors = torch.stack([item["rec_n_pos"] - rec_pos, item["rec_c_pos"] - rec_pos], dim=1)
    data["receptor"].num_nodes = rec_pos.shape[0]
    if "rec_esm" in item:
        data["receptor"].esm = item["rec_esm"].float()
    if receptor_radius:
        data["receptor", "near", "receptor"].edge_index = receptor_edges(rec_pos, receptor_radius,
                                                                         receptor_max_neighbors)
    data.name = item["name"]
    # NaN marks "unknown" so items with and without a known pocket batch together.
    center = item.get("pocket_center")
    data.pocket_center = (center.float() if center is not None else torch.full((3,), float("nan")))[None]
    return data


def rotation_masks_per_graph(batch) -> list[torch.Tensor]:
    """Undo the flattening of a batch's rotation masks: one (R_g, N_g) bool tensor per graph."""
    n_atoms = torch.bincount(batch["ligand"].batch, minlength=batch.num_graphs).tolist()
    rot_edges = batch["ligand", "rot", "ligand"].edge_index
    rot_graph = batch["ligand"].batch[rot_edges[0]] if rot_edges.numel() else torch.empty(0, dtype=torch.long)
    n_rot = torch.bincount(rot_graph, minlength=batch.num_graphs).tolist()
    flat, masks, offset = batch["ligand"].rot_mask_flat, [], 0
    for r, n in zip(n_rot, n_atoms):
        masks.append(flat[offset:offset + r * n].reshape(r, n))
        offset += r * n
    return masks


class ComplexDataset(Dataset):
    """The cached complexes of CACHE/index.csv (optionally only those named in a split file)."""

    def __init__(self, cache_dir: str | Path, split: str | Path | list[str] | None = None, pose: str = "matched",
                 receptor_radius: float | None = DEFAULT_RECEPTOR_RADIUS,
                 receptor_max_neighbors: int = DEFAULT_RECEPTOR_MAX_NEIGHBORS, keep_in_memory: bool = False):
        self.cache_dir = Path(cache_dir)
        index = self.cache_dir / "index.csv"
        if not index.is_file():
            raise InputError(str(self.cache_dir), "no index.csv: not a processed cache (run `disco prep`)")
        with index.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if pose in ("matched", "crystal"):
            rows = [r for r in rows if r["matched_rmsd"] != ""]
        if split is not None:
            wanted = set(read_split(split) if isinstance(split, (str, Path)) else split)
            wanted_files = {safe_name(w) for w in wanted}
            rows = [r for r in rows if r["name"] in wanted or Path(r["file"]).stem in wanted_files]
        self.rows = rows
        self.pose = pose
        self.receptor_radius = receptor_radius
        self.receptor_max_neighbors = receptor_max_neighbors
        self._memory: dict[int, HeteroData] | None = {} if keep_in_memory else None

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> HeteroData:
        if self._memory is not None and index in self._memory:
            return self._memory[index]
        item = load_item(self.cache_dir / self.rows[index]["file"])
        data = item_to_heterodata(item, self.pose, self.receptor_radius, self.receptor_max_neighbors)
        if self._memory is not None:
            self._memory[index] = data
        return data


def complex_loader(dataset: ComplexDataset, batch_size: int = 4, shuffle: bool = True, **kwargs):
    """A PyG DataLoader that batches HeteroData graphs."""
    from torch_geometric.loader import DataLoader

    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)
