"""Ligands in (SDF, MOL2, SMILES) -> a sanitised heavy-atom RDKit molecule, and its RDKit conformer.

Reading tries the strict path first and falls back only in ways that keep the chemistry honest:
PDBbind's common fault (a 4-connected neutral nitrogen) is repaired by charging that nitrogen, and a
PDBbind folder's MOL2 replaces an SDF that does not sanitise. Anything else is an InputError naming
the file. The heavy-atom order of the file is kept everywhere (all tensors index atoms in that order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import rdDistGeom

from disco_core.errors import InputError

RDLogger.DisableLog("rdApp.*")  # RDKit's own stderr chatter; our errors carry the reason instead

LIGAND_FILE_SUFFIXES = (".sdf", ".mol", ".mol2")


@dataclass
class LigandInput:
    """A molecule as read, with where it came from and whether its coordinates are a reference pose."""

    mol: Chem.Mol                 # heavy atoms only, sanitised
    source: str                   # path or SMILES
    has_pose: bool                # True when the input carried 3D coordinates (crystal or reference)
    how: str                      # which reader/fallback produced it


def _is_3d(mol: Chem.Mol) -> bool:
    if mol.GetNumConformers() == 0:
        return False
    pos = mol.GetConformer().GetPositions()
    return bool(np.ptp(pos[:, 2]) > 1e-3 or (mol.GetNumAtoms() <= 3 and np.ptp(pos) > 1e-3))


def _charge_tetravalent_nitrogens(mol: Chem.Mol) -> Chem.Mol:
    """Give +1 to neutral N (and P) with four bonds, the usual reason a PDBbind SDF fails to sanitise."""
    mol = Chem.Mol(mol)
    mol.UpdatePropertyCache(strict=False)
    for atom in mol.GetAtoms():
        if atom.GetSymbol() in ("N", "P") and atom.GetFormalCharge() == 0 and atom.GetExplicitValence() == 4:
            atom.SetFormalCharge(1)
            atom.SetNoImplicit(True)
    return mol


def _heavy_atoms(mol: Chem.Mol) -> Chem.Mol:
    """Remove every hydrogen, keeping heavy-atom order and stereo perceived before the removal."""
    mol = Chem.RemoveHs(mol, sanitize=True)
    if any(atom.GetAtomicNum() == 1 for atom in mol.GetAtoms()):
        mol = Chem.RemoveAllHs(mol, sanitize=True)
    return mol


def sanitize_ligand(raw: Chem.Mol | None, repair: bool) -> Chem.Mol:
    """Sanitise (optionally after the nitrogen repair), perceive stereo from 3D, drop hydrogens."""
    if raw is None:
        raise ValueError("RDKit could not parse the molecule")
    mol = _charge_tetravalent_nitrogens(raw) if repair else Chem.Mol(raw)
    Chem.SanitizeMol(mol)
    if mol.GetNumConformers() and _is_3d(mol):
        Chem.AssignStereochemistryFrom3D(mol)
    mol = _heavy_atoms(mol)
    if mol.GetNumAtoms() == 0:
        raise ValueError("molecule has no heavy atoms")
    return mol


def _read_raw(path: Path) -> Chem.Mol | None:
    suffix = path.suffix.lower()
    if suffix in (".sdf", ".mol"):
        supplier = Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False, strictParsing=True)
        if len(supplier) == 0:
            return None
        return supplier[0]
    if suffix == ".mol2":
        return Chem.MolFromMol2File(str(path), sanitize=False, removeHs=False)
    raise InputError(str(path), f"unsupported ligand file type {suffix!r} (use .sdf, .mol or .mol2)")


def read_ligand_file(path: str | Path, fallbacks: tuple[str | Path, ...] = ()) -> LigandInput:
    """Read the first molecule of an SDF/MOL2 file, trying `fallbacks` (e.g. the PDBbind MOL2) in turn.

    Order: each file strictly, then each file with the tetravalent-nitrogen repair."""
    candidates = [Path(path)] + [Path(p) for p in fallbacks]
    reasons = []
    raws: list[tuple[Path, Chem.Mol | None]] = []
    for candidate in candidates:
        if not candidate.is_file():
            reasons.append(f"{candidate.name}: file not found")
            continue
        if candidate.stat().st_size == 0:
            reasons.append(f"{candidate.name}: file is empty")
            continue
        try:
            raws.append((candidate, _read_raw(candidate)))
        except InputError:
            raise
        except Exception as exc:
            reasons.append(f"{candidate.name}: {exc}")
    for repair in (False, True):
        for candidate, raw in raws:
            try:
                mol = sanitize_ligand(raw, repair)
            except Exception as exc:
                if not repair:
                    reasons.append(f"{candidate.name}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
                continue
            how = f"{candidate.suffix.lstrip('.').lower()}{'+charged_N' if repair else ''}"
            return LigandInput(mol=mol, source=str(candidate), has_pose=_is_3d(raw), how=how)
    raise InputError(str(path), "ligand cannot be read or sanitised (" + "; ".join(reasons) + ")")


def read_smiles(smiles: str) -> LigandInput:
    mol = Chem.MolFromSmiles(smiles.strip()) if smiles.strip() else None
    if mol is None:
        raise InputError(smiles, "unparsable SMILES (RDKit could not parse or sanitise it)")
    return LigandInput(mol=_heavy_atoms(mol), source=smiles, has_pose=False, how="smiles")


def looks_like_path(description: str) -> bool:
    return description.strip().lower().endswith(LIGAND_FILE_SUFFIXES) or "/" in description


def read_ligand(description: str | Path, fallbacks: tuple[str | Path, ...] = ()) -> LigandInput:
    """A ligand from a file path (SDF/MOL/MOL2) or a SMILES string, as DiffDock's CSVs give it."""
    text = str(description).strip()
    if not text:
        raise InputError("<empty>", "empty ligand description")
    if looks_like_path(text) or Path(text).is_file():
        return read_ligand_file(text, fallbacks)
    return read_smiles(text)


class EmbeddingError(InputError):
    """RDKit could not produce 3D coordinates for a molecule."""


def generate_conformer(mol: Chem.Mol, seed: int = 0, timeout_s: float = 30.0,
                       max_attempts: int = 3, name: str = "ligand") -> np.ndarray:
    """3D heavy-atom coordinates (N, 3) for `mol` from ETKDGv3 with explicit hydrogens, seeded.

    Fallbacks, in order: ETKDGv3; ETKDGv3 from random coordinates; random coordinates without
    torsion preferences. Each attempt has RDKit's own timeout, and the whole search stops once
    `timeout_s` has passed, so a large peptide or an impossible cage cannot hang a worker."""
    with_h = Chem.AddHs(mol)
    n_heavy = mol.GetNumAtoms()
    start = time.monotonic()
    attempts = []
    params_v3 = rdDistGeom.ETKDGv3()
    params_random = rdDistGeom.ETKDGv3()
    params_random.useRandomCoords = True
    params_plain = rdDistGeom.EmbedParameters()
    params_plain.useRandomCoords = True
    params_plain.useExpTorsionAnglePrefs = False
    params_plain.useBasicKnowledge = True
    tried = []
    for label, params in (("ETKDGv3", params_v3), ("ETKDGv3+random-coords", params_random),
                          ("random-coords", params_plain)):
        for attempt in range(max_attempts):
            remaining = timeout_s - (time.monotonic() - start)
            if remaining <= 0:
                break
            params.randomSeed = seed + 7919 * attempt
            params.timeout = max(1, int(remaining))
            params.maxIterations = 0  # RDKit default: 10 x atoms
            params.numThreads = 1
            conf_id = rdDistGeom.EmbedMolecule(with_h, params)
            tried.append(label)
            if conf_id >= 0:
                pos = with_h.GetConformer(conf_id).GetPositions()[:n_heavy]
                if np.all(np.isfinite(pos)):
                    return pos.astype(np.float32)
        attempts.append(label)
    elapsed = time.monotonic() - start
    raise EmbeddingError(name, f"RDKit cannot embed this molecule in 3D ({len(tried)} attempts with "
                               f"{', '.join(attempts) or 'no method'}, {elapsed:.1f} s, budget {timeout_s:.0f} s)")
