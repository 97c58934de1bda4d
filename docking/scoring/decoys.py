"""Decoys: poses of training complexes across the RMSD range, each labelled with its symmetry-corrected RMSD to
the crystal pose (spyrmsd) and its interaction energy. What a pose scorer learns to order: the ranking, not the
search, loses most of the default's runs.

Per complex, in the crystal ligand's own geometry (bond lengths, angles and rings; the pose space docking
searches: translation, rotation, torsions), every pose minimised in the interaction energy:

    source 0  the crystal pose, minimised (the near-native anchor)
    source 1  crystal pose perturbed (rotation ~ N(0, 0.6 rad), shift ~ N(0, 1.5 A) per axis, each torsion
              ~ N(0, 1.2 rad)), minimised: near-native to a few Angstrom
    source 2  random starts (docking.physics.global_search.random_poses: uniform torsions and orientation,
              centroid uniform within 4 A of the crystal centroid), minimised: the wrong basins of the site

    source 3  the poses `disco dock`'s default writes for the complex (`docked_decoys`, from a `disco bench dock`
              run folder): the deep wrong minima its own search finds, which the scorer must rank below the
              right one

Not yet: Vina's modes and the modelled poses of ../shared/data/modelled as positives.

Stored per part as one .npz (`write_part`): ligand coordinates relative to the poses' centroid in float16
(|x| < 30 A: steps of at most 0.016 A), with RMSD, energy and source per pose, so that a set of a few hundred
complexes stays a few MB and can be committed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from data_prep.inputs import ComplexJob, pdbbind_jobs, read_split
from data_prep.ligand import read_ligand_file
from data_prep.pose_rmsd import symmetry_rmsd
from data_prep.protein import read_heavy_atoms
from data_prep.torsions import rotatable_bonds
from disco_core.errors import DiscoError, InputError
from disco_core.io import atomic_open
from docking.geometry.pose import apply_torsion_changes, rotate_about_centroid, translate
from docking.geometry.rotations import axis_angle_to_matrix
from docking.physics.global_search import random_poses
from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
from docking.physics.grid_maps import GridBox, GridInteractionEnergy, ReceptorGrids
from docking.physics.local_minimization import minimize_poses
from docking.physics.site_energies import GRID_MARGIN_A, MIN_GRID_HALF_SIZE_A

log = logging.getLogger(__name__)

SOURCES = ("crystal", "perturbed", "random_start", "default_poses")
START_RADIUS_A = 4.0          # random starts' centroids, as the default's random starts
RECEPTOR_MARGIN_A = 16.0      # receptor atoms within the ligand's extent + this of its centroid are typed


@dataclass(frozen=True)
class DecoySettings:
    perturbed: int = 32               # source 1 poses per complex
    random_starts: int = 32           # source 2 poses per complex
    minimise_steps: int = 100
    seed: int = 0


@dataclass
class ComplexDecoys:
    name: str
    coords: np.ndarray        # (P, N, 3) float32, absolute (the protein's frame), heavy atoms in the SDF's order
    rmsd: np.ndarray          # (P,) symmetry-corrected heavy-atom RMSD to the crystal pose, A
    energy: np.ndarray        # (P,) interaction energy after minimisation (docking.physics.interaction_energy)
    source: np.ndarray        # (P,) index into SOURCES


def _perturbed(crystal: torch.Tensor, count: int, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
               generator: torch.Generator) -> torch.Tensor:
    pos = crystal[None].repeat(count, 1, 1)
    if rot_bonds.shape[0] > 0:
        angles = torch.randn(count, rot_bonds.shape[0], generator=generator) * 1.2
        pos = apply_torsion_changes(pos, rot_bonds, rot_masks, angles, realign=True)
    rotations = axis_angle_to_matrix(torch.randn(count, 3, generator=generator) * 0.6)
    return translate(rotate_about_centroid(pos, rotations), torch.randn(count, 3, generator=generator) * 1.5)


def complex_decoys(name: str, protein: str | Path, ligand: str | Path, settings: DecoySettings = DecoySettings(),
                   ligand_fallbacks: tuple[str, ...] = ()) -> ComplexDecoys:
    """The decoys of one complex; InputError naming it when its files cannot be used."""
    mol = Chem.RemoveHs(read_ligand_file(ligand, ligand_fallbacks).mol, sanitize=False)
    if mol.GetNumConformers() == 0:
        raise InputError(name, "the crystal ligand has no coordinates")
    crystal = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32)
    center = crystal.mean(0)
    extent = float((crystal - center).norm(dim=1).max())
    atoms = receptor_atoms(read_heavy_atoms(protein), center.double(), extent + START_RADIUS_A + RECEPTOR_MARGIN_A)
    energy = InteractionEnergy.for_ligand(mol, atoms)
    # searched on grid maps (as the default searches), energies reported in the exact pairwise sum
    half = max(MIN_GRID_HALF_SIZE_A, 2.0 * math.ceil((extent + GRID_MARGIN_A) / 2.0))     # the default's box
    grids = ReceptorGrids(atoms, GridBox.around(center, half))
    search = GridInteractionEnergy.for_ligand(mol, grids)
    bonds, masks = rotatable_bonds(mol)
    rot_bonds, rot_masks = torch.as_tensor(bonds), torch.as_tensor(masks)
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + sum(map(ord, name)))
    starts = torch.cat([crystal[None], _perturbed(crystal, settings.perturbed, rot_bonds, rot_masks, generator),
                        random_poses(crystal, settings.random_starts, center, START_RADIUS_A, rot_bonds, rot_masks,
                                     generator)])
    minimised, _ = minimize_poses(search, starts, rot_bonds, rot_masks, settings.minimise_steps)
    energies = energy(minimised.float()).detach()
    coords = minimised.numpy().astype(np.float32)
    source = np.repeat(np.arange(3), [1, settings.perturbed, settings.random_starts]).astype(np.uint8)
    return ComplexDecoys(name, coords, symmetry_rmsd(mol, coords, crystal.numpy()).astype(np.float32),
                         energies.numpy().astype(np.float32), source)


def write_part(path: str | Path, decoys: list[ComplexDecoys], failures: dict[str, str]) -> Path:
    """One part as a compressed .npz, written atomically: per complex its name, pose count and atom count, and
    per pose (concatenated) float16 coordinates relative to the centroid of all its poses plus that centroid."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    centroids = np.array([d.coords.reshape(-1, 3).mean(0) for d in decoys], dtype=np.float32).reshape(-1, 3)
    arrays = {
        "names": np.array([d.name for d in decoys], dtype=str),
        "poses": np.array([len(d.rmsd) for d in decoys], dtype=np.int32),
        "atoms": np.array([d.coords.shape[1] for d in decoys], dtype=np.int32),
        "centroids": centroids,
        "coords": (np.concatenate([(d.coords - c).reshape(-1, 3) for d, c in zip(decoys, centroids)])
                   if decoys else np.zeros((0, 3))).astype(np.float16),
        "rmsd": np.concatenate([d.rmsd for d in decoys]) if decoys else np.zeros(0, np.float32),
        "energy": np.concatenate([d.energy for d in decoys]) if decoys else np.zeros(0, np.float32),
        "source": np.concatenate([d.source for d in decoys]) if decoys else np.zeros(0, np.uint8),
        "failed_names": np.array(sorted(failures), dtype=str),
        "failed_reasons": np.array([failures[k] for k in sorted(failures)], dtype=str),
    }
    with atomic_open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def read_part(path: str | Path) -> tuple[list[ComplexDecoys], dict[str, str]]:
    """The decoys and failures of one part, coordinates back in the protein's frame (float32)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DiscoError(f"{path}: not a decoy part ({exc})") from None
    decoys, pose_at, atom_at = [], 0, 0
    for name, poses, atoms, centroid in zip(data["names"], data["poses"], data["atoms"], data["centroids"]):
        coords = data["coords"][atom_at:atom_at + poses * atoms].astype(np.float32).reshape(poses, atoms, 3) + centroid
        decoys.append(ComplexDecoys(str(name), coords, data["rmsd"][pose_at:pose_at + poses],
                                    data["energy"][pose_at:pose_at + poses], data["source"][pose_at:pose_at + poses]))
        pose_at, atom_at = pose_at + poses, atom_at + poses * atoms
    return decoys, dict(zip(map(str, data["failed_names"]), map(str, data["failed_reasons"])))


def dataset_complexes(dataset: str | Path, split: str | Path) -> list[ComplexJob]:
    """The complexes of a PDBBind-layout folder named in a split file (data_prep.inputs.pdbbind_jobs: processed
    proteins, MOL2 fallbacks). Refuses any id that the dataset's own val or test split lists
    (DATASET/../splits/{val,test}.txt, where they exist): decoys are for training only."""
    names = read_split(split)
    held_out = set()
    for kind in ("val", "test"):
        listed = Path(dataset).parent / "splits" / f"{kind}.txt"
        if listed.is_file():
            held_out |= set(read_split(listed))
    refused = sorted(set(names) & held_out)
    if refused:
        raise InputError(str(split), f"{len(refused)} val/test complex(es) ({', '.join(refused[:5])}): decoys are "
                                     f"built for training complexes only")
    return pdbbind_jobs(dataset, split)


def build_part(complexes: list[ComplexJob], out_dir: str | Path, part: int = 1, parts: int = 1,
               settings: DecoySettings = DecoySettings(), progress=None) -> Path:
    """OUT/decoys_<part>of<parts>.npz for complexes part, part + parts, ... (1-based, interleaved); an existing
    file is kept (rerun to resume a set built in parts). A complex that cannot be used is recorded in the part's
    failures and the rest complete."""
    path = Path(out_dir) / f"decoys_{part}of{parts}.npz"
    if path.is_file():
        log.info("%s exists: kept", path)
        return path
    chosen = complexes[part - 1::parts]
    decoys, failures = [], {}
    for item in chosen:
        try:
            if item.input_error:
                raise InputError(item.name, item.input_error)
            decoys.append(complex_decoys(item.name, item.protein_path, item.ligand, settings, item.ligand_fallbacks))
        except InputError as exc:
            failures[item.name] = exc.reason
            log.warning("%s: skipped (%s)", item.name, exc.reason)
        if progress is not None:
            progress(item.name)
    return write_part(path, decoys, failures)


def docked_decoys(run_folder: str | Path, complexes: list[ComplexJob], method: str = "disco"
                  ) -> tuple[list[ComplexDecoys], dict[str, str]]:
    """Source 3: the poses a `disco bench dock` run wrote (RUN/<method>/<id>.sdf, heavy atoms in the ligand file's
    atom order) for each of `complexes`, labelled with their symmetry-corrected RMSD to the crystal pose; their
    energy is the run's `interaction_energy`. A complex without poses, or whose poses are not its ligand's atoms,
    is recorded with the reason."""
    decoys, failures = [], {}
    for item in complexes:
        path = Path(run_folder) / method / f"{item.name}.sdf"
        try:
            if not path.is_file():
                raise InputError(item.name, f"no poses in {path}")
            mol = Chem.RemoveHs(read_ligand_file(item.ligand, item.ligand_fallbacks).mol, sanitize=False)
            poses = [m for m in Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False) if m is not None]
            poses = [Chem.RemoveHs(m, sanitize=False) for m in poses]
            elements = [a.GetSymbol() for a in mol.GetAtoms()]
            if not poses or any([a.GetSymbol() for a in p.GetAtoms()] != elements for p in poses):
                raise InputError(item.name, f"{path}: poses are not the ligand's heavy atoms in its order")
            coords = np.stack([p.GetConformer().GetPositions() for p in poses]).astype(np.float32)
            energy = np.array([float(p.GetProp("interaction_energy")) if p.HasProp("interaction_energy")
                               else np.nan for p in poses], dtype=np.float32)
            crystal = mol.GetConformer().GetPositions()
            decoys.append(ComplexDecoys(item.name, coords, symmetry_rmsd(mol, coords, crystal).astype(np.float32),
                                        energy, np.full(len(poses), SOURCES.index("default_poses"), np.uint8)))
        except InputError as exc:
            failures[item.name] = exc.reason
            log.warning("%s: skipped (%s)", item.name, exc.reason)
    return decoys, failures
