"""AutoDock Vina as a baseline and a rescoring function, through the `vina` and `meeko` Python packages.

Receptor: a rigid PDBQT from `docking.physics.vina_receptor.prepare_receptor` (meeko's polymer
templates), or a PDBQT path.

Ligand: an RDKit molecule's *topology* only. Docking starts from a fresh RDKit conformer, never from the
molecule's coordinates. Poses come back as heavy-atom molecules with the input's atom order, so an
RMSD against the crystal ligand (or a rescoring of another method's pose) needs no atom mapping.

Box defaults: around a reference ligand, its axis-aligned extent plus `padding` = 4 A on each side
(smina's autobox_add), and no side shorter than `min_size` = 20 A, so that small ligands can still
turn freely; blind docking uses the whole protein's heavy atoms plus the same padding.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

from data_prep.protein import read_heavy_atoms
from disco_core.errors import InputError
from docking.physics.vina_receptor import PreparedReceptor, first_line

DEFAULT_PADDING = 4.0
DEFAULT_MIN_BOX_SIZE = 20.0


@dataclass(frozen=True)
class Box:
    """A Vina search box: centre and side lengths in Angstrom."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]


def box_around_points(points: np.ndarray, padding: float = DEFAULT_PADDING,
                      min_size: float = DEFAULT_MIN_BOX_SIZE) -> Box:
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    low, high = points.min(0), points.max(0)
    size = np.maximum(high - low + 2 * padding, min_size)
    return Box(tuple(float(v) for v in (low + high) / 2), tuple(float(v) for v in size))


def box_around_ligand(mol: Chem.Mol, padding: float = DEFAULT_PADDING,
                      min_size: float = DEFAULT_MIN_BOX_SIZE) -> Box:
    """The pocket box of a reference ligand pose (e.g. the crystal ligand)."""
    if mol.GetNumConformers() == 0:
        raise InputError(_name(mol), "reference ligand has no coordinates to build a box from")
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    return box_around_points(mol.GetConformer().GetPositions()[heavy], padding, min_size)


def box_around_protein(protein_path: str | Path, padding: float = DEFAULT_PADDING) -> Box:
    """Blind docking: a box around every heavy atom of the protein."""
    return box_around_points(read_heavy_atoms(protein_path).pos, padding, min_size=0.0)


# ------------------------------------------------------------------------------------------ ligand

def _name(mol: Chem.Mol) -> str:
    return mol.GetProp("_Name") if mol.HasProp("_Name") and mol.GetProp("_Name").strip() else "ligand"


def heavy_copy(mol: Chem.Mol, name: str) -> Chem.Mol:
    """A sanitised heavy-atom copy (the atom order of the heavy atoms is kept)."""
    heavy = Chem.RemoveHs(mol, sanitize=False) if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()) else Chem.Mol(mol)
    if heavy.GetNumAtoms() == 0:
        raise InputError(name, "ligand has no heavy atoms")
    try:
        Chem.SanitizeMol(heavy)
    except Exception as exc:
        raise InputError(name, f"ligand does not sanitise ({first_line(exc)})") from None
    return heavy


def _ligand_pdbqt(mol_with_h: Chem.Mol, name: str) -> tuple[str, dict[int, int]]:
    """meeko PDBQT for a molecule with explicit hydrogens, and input heavy-atom index -> SMILES index."""
    from meeko import MoleculePreparation, PDBQTWriterLegacy

    try:
        setups = MoleculePreparation().prepare(mol_with_h)
    except Exception as exc:
        raise InputError(name, f"meeko cannot prepare the ligand ({first_line(exc)})") from None
    if len(setups) != 1:
        raise InputError(name, f"meeko split the ligand into {len(setups)} parts (expected one molecule)")
    pdbqt, ok, error = PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise InputError(name, f"meeko cannot write the ligand PDBQT ({error.strip()[:200]})")
    _smiles, order = setups[0].get_smiles_and_order()
    return pdbqt, {int(k): int(v) - 1 for k, v in order.items()}


def prepare_ligand(mol: Chem.Mol, coordinates: np.ndarray | None = None, seed: int = 0,
                   name: str | None = None) -> tuple[str, dict[int, int]]:
    """Ligand PDBQT from `mol`'s heavy atoms, placed at `coordinates` (N, 3) or at a fresh RDKit
    conformer (seeded) when None. Hydrogens are added with coordinates."""
    from data_prep.ligand import generate_conformer

    name = name or _name(mol)
    heavy = heavy_copy(mol, name)
    if coordinates is None:
        coordinates = generate_conformer(heavy, seed=seed, name=name)
    coordinates = np.asarray(coordinates, dtype=float)
    if coordinates.shape != (heavy.GetNumAtoms(), 3):
        raise InputError(name, f"coordinates of shape {coordinates.shape} for {heavy.GetNumAtoms()} heavy atoms")
    placed = Chem.Mol(heavy)
    placed.RemoveAllConformers()
    conformer = Chem.Conformer(heavy.GetNumAtoms())
    for i, (x, y, z) in enumerate(coordinates):
        conformer.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
    conformer.Set3D(True)
    placed.AddConformer(conformer, assignId=True)
    with_h = Chem.AddHs(placed, addCoords=True)
    return _ligand_pdbqt(with_h, name)


def poses_from_pdbqt(pdbqt: str, template: Chem.Mol, order: dict[int, int], name: str) -> list[Chem.Mol]:
    """Vina output PDBQT -> one heavy-atom Mol per pose, atoms in `template`'s order."""
    from meeko import PDBQTMolecule, RDKitMolCreate

    try:
        exported = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(pdbqt, skip_typing=True))[0]
    except Exception as exc:
        raise InputError(name, f"cannot read Vina's poses back ({first_line(exc)})") from None
    poses = []
    for conformer in exported.GetConformers():
        positions = conformer.GetPositions()
        pose = Chem.Mol(template)
        pose.RemoveAllConformers()
        placed = Chem.Conformer(template.GetNumAtoms())
        for i in range(template.GetNumAtoms()):
            x, y, z = positions[order[i]]
            placed.SetAtomPosition(i, Point3D(float(x), float(y), float(z)))
        placed.Set3D(True)
        pose.AddConformer(placed, assignId=True)
        poses.append(pose)
    return poses


# --------------------------------------------------------------------------------------------- Vina

def _receptor_pdbqt(receptor: PreparedReceptor | str | Path) -> str:
    path = receptor.pdbqt_path if isinstance(receptor, PreparedReceptor) else Path(receptor)
    if not Path(path).is_file() or not str(path).endswith(".pdbqt"):
        raise InputError(str(path), "not a receptor PDBQT (prepare it with prepare_receptor)")
    return str(path)


def vina_engine(receptor: PreparedReceptor | str | Path, ligand_pdbqt: str, box: Box, seed: int, cpu: int, name: str):
    """A Vina object with the receptor, the ligand and the box's maps set: one set of maps serves many poses."""
    from vina import Vina

    # Vina reads seed 0 as "draw a random seed": shift ours by one so that every seed, 0 included, repeats
    engine = Vina(sf_name="vina", cpu=cpu, seed=seed + 1, verbosity=0)
    try:
        engine.set_receptor(rigid_pdbqt_filename=_receptor_pdbqt(receptor))
        engine.set_ligand_from_string(ligand_pdbqt)
        engine.compute_vina_maps(center=list(box.center), box_size=list(box.size))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(name, f"Vina setup failed ({first_line(exc)})") from None
    return engine


def vina_dock(receptor: PreparedReceptor | str | Path, mol: Chem.Mol, box: Box, exhaustiveness: int = 8,
              n_poses: int = 10, seed: int = 0, cpu: int = 1, name: str | None = None) -> list[tuple[Chem.Mol, float]]:
    """Dock `mol` (topology only; it starts from a seeded RDKit conformer) into `box`.

    Returns up to `n_poses` (pose, Vina score in kcal/mol), best first; poses are heavy-atom molecules
    in `mol`'s atom order. `cpu` is Vina's thread count (1 keeps benchmark timings comparable)."""
    name = name or _name(mol)
    template = heavy_copy(mol, name)
    pdbqt, order = prepare_ligand(template, None, seed=seed, name=name)
    engine = vina_engine(receptor, pdbqt, box, seed, cpu, name)
    try:
        engine.dock(exhaustiveness=int(exhaustiveness), n_poses=int(n_poses))
        energies = engine.energies(n_poses=int(n_poses), energy_range=1e6)
        output = engine.poses(n_poses=int(n_poses), energy_range=1e6)
    except Exception as exc:
        raise InputError(name, f"Vina docking failed ({first_line(exc)})") from None
    poses = poses_from_pdbqt(output, template, order, name)
    if not poses:
        raise InputError(name, "Vina returned no poses")
    return [(pose, float(energy[0])) for pose, energy in zip(poses, energies)]


def vina_intermolecular(receptor: PreparedReceptor | str | Path, template: Chem.Mol, positions: list[np.ndarray],
                        name: str | None = None) -> np.ndarray:
    """Vina's score_only intermolecular energy (its lig_inter term, kcal/mol, before the rotatable-bond
    normalisation) of `template`'s heavy atoms at each of `positions` (N, 3), all in one set of maps: a box over
    every position plus 12 A, so that no atom within the 8 A cutoff of a pose lies outside it."""
    name = name or _name(template)
    template = heavy_copy(template, name)
    box = box_around_points(np.vstack(positions), padding=12.0, min_size=DEFAULT_MIN_BOX_SIZE)
    values = []
    engine = None
    for xyz in positions:
        pdbqt, _ = prepare_ligand(template, np.asarray(xyz, dtype=float), name=name)
        if engine is None:
            engine = vina_engine(receptor, pdbqt, box, seed=0, cpu=1, name=name)
        else:
            engine.set_ligand_from_string(pdbqt)
        try:
            values.append(float(engine.score()[1]))
        except Exception as exc:
            raise InputError(name, f"Vina scoring failed ({first_line(exc)})") from None
    return np.array(values)


def vina_score(receptor: PreparedReceptor | str | Path, pose: Chem.Mol, local_optimize: bool = False,
               padding: float = DEFAULT_PADDING, cpu: int = 1, name: str | None = None) -> tuple[float, Chem.Mol]:
    """Vina score (kcal/mol) of a pose made by another method, optionally after Vina's local
    optimisation; returns (score, optimised pose in `pose`'s heavy-atom order, or the pose itself)."""
    name = name or _name(pose)
    template = heavy_copy(pose, name)
    if template.GetNumConformers() == 0:
        raise InputError(name, "pose has no coordinates")
    coordinates = template.GetConformer().GetPositions()
    pdbqt, order = prepare_ligand(template, coordinates, name=name)
    box = box_around_points(coordinates, padding=padding + 4.0, min_size=DEFAULT_MIN_BOX_SIZE)
    engine = vina_engine(receptor, pdbqt, box, seed=0, cpu=cpu, name=name)
    try:
        if not local_optimize:
            return float(engine.score()[0]), template
        energies = engine.optimize()
        with tempfile.TemporaryDirectory(prefix="disco-vina-") as folder:
            out = Path(folder) / "optimized.pdbqt"
            engine.write_pose(str(out), overwrite=True)
            optimized = out.read_text()
    except Exception as exc:
        raise InputError(name, f"Vina scoring failed ({first_line(exc)})") from None
    return float(energies[0]), poses_from_pdbqt(optimized, template, order, name)[0]
