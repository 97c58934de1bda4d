"""PoseBusters physical-validity checks of docked poses (offline, in process).

One `bust` call covers all poses of a ligand, and the protein is loaded once per file (PoseBusters
would otherwise re-read it for every pose, which dominates the time for large receptors).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd
from rdkit import Chem

from disco_core.errors import InputError

CONFIGS = ("dock", "dock_fast", "redock", "redock_fast", "mol", "mol_fast")
_PROTEINS: OrderedDict[tuple[str, str], Chem.Mol] = OrderedDict()
_PROTEIN_CACHE_SIZE = 4
_LOCK = threading.Lock()


def _posebusters(config: str):
    from posebusters import PoseBusters

    if config not in CONFIGS:
        raise InputError(config, f"unknown PoseBusters config (use one of {', '.join(CONFIGS)})")
    return PoseBusters(config=config, max_workers=0)


def _load_protein(protein_path: str | Path, buster) -> Chem.Mol:
    from posebusters.tools.loading import safe_load_mol

    path = Path(protein_path)
    if not path.is_file():
        raise InputError(str(path), "protein file not found")
    key = (str(path.resolve()), str(path.stat().st_mtime_ns))
    with _LOCK:
        if key in _PROTEINS:
            _PROTEINS.move_to_end(key)
            return _PROTEINS[key]
    params = buster.config.get("loading", {}).get("mol_cond", {})
    protein = safe_load_mol(path=path, **params)
    if protein is None or protein.GetNumAtoms() == 0:
        raise InputError(str(path), "PoseBusters cannot load the protein")
    with _LOCK:
        _PROTEINS[key] = protein
        while len(_PROTEINS) > _PROTEIN_CACHE_SIZE:
            _PROTEINS.popitem(last=False)
    return protein


def check_poses(poses: list[Chem.Mol], protein_path: str | Path | None, config: str = "dock") -> pd.DataFrame:
    """One row per pose (in order): PoseBusters' boolean checks, `pb_valid` (all pass) and
    `pb_failed` (comma-joined names of the failing checks, '' when valid)."""
    if not poses:
        return pd.DataFrame(columns=["pb_valid", "pb_failed"])
    buster = _posebusters(config)
    protein = _load_protein(protein_path, buster) if protein_path is not None else None
    # PoseBusters logs every unloadable/odd input at WARNING; the table carries the outcome instead
    logger = logging.getLogger("posebusters")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        table = buster.bust(mol_pred=[Chem.Mol(pose) for pose in poses], mol_true=None, mol_cond=protein)
    finally:
        logger.setLevel(level)
    table = table.reset_index(drop=True)
    if len(table) != len(poses):
        raise InputError(str(protein_path), f"PoseBusters returned {len(table)} rows for {len(poses)} poses")
    checks = [c for c in table.columns if table[c].dropna().isin([True, False]).all()]
    table = table[checks].astype("boolean").fillna(False).astype(bool)
    table["pb_valid"] = table[checks].all(axis=1)
    table["pb_failed"] = [",".join(c for c in checks if not row[c]) for _, row in table[checks].iterrows()]
    return table
