"""Where on the receptor to dock: a user-given site, or candidate sites for blind docking.

A pocket is a centre (and optionally a crop radius). Users give it as coordinates, as residues
("A:45,A:99": the centroid of their C-alphas) or as a reference ligand (its centroid, as gnina's
--autobox_ligand). Blind docking with a pocket-conditioned model docks at candidate sites found by
docking.inference.site_search instead; the poses of every site are ranked together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_prep.ligand import read_ligand_file
from data_prep.receptor import Receptor
from disco_core.errors import InputError


_RESIDUE_ID = re.compile(r"^[A-Za-z0-9]{1,4}:-?\d+[A-Za-z]?$")


@dataclass(frozen=True)
class Pocket:
    center: tuple[float, float, float]
    radius: float | None = None          # None: the model's training crop radius
    source: str = "center"               # how it was given (for the output's SD properties)


def pocket_from_center(xyz: list[float] | tuple[float, ...], radius: float | None = None) -> Pocket:
    if len(xyz) != 3 or not all(np.isfinite(xyz)):
        raise InputError("--pocket-center", f"needs three finite numbers X Y Z, got {list(xyz)}")
    if radius is not None and radius <= 0:
        raise InputError("--pocket-radius", f"must be positive, got {radius}")
    return Pocket(tuple(float(v) for v in xyz), radius, "center")


def pocket_from_ligand_file(path: str | Path, radius: float | None = None) -> Pocket:
    """The centroid of a reference ligand's heavy atoms (SDF/MOL/MOL2 with coordinates)."""
    ligand = read_ligand_file(path)
    if not ligand.has_pose:
        raise InputError(str(path), "the reference ligand has no 3D coordinates to centre the box on")
    center = ligand.mol.GetConformer().GetPositions().mean(0)
    return Pocket(tuple(float(v) for v in center), radius, f"autobox:{Path(path).name}")


def parse_residue_list(text: str) -> list[str]:
    """'A:45, A:99B' -> ['A:45', 'A:99B'] (chain:number[insertion code])."""
    residues = [part.strip() for part in text.split(",") if part.strip()]
    bad = [r for r in residues if not _RESIDUE_ID.match(r)]
    if not residues or bad:
        raise InputError("--pocket-residues", f"expected CHAIN:NUMBER items separated by commas, got {text!r}")
    return residues


def pocket_from_residues(receptor: Receptor, residues: list[str], radius: float | None = None,
                         protein_name: str = "protein") -> Pocket:
    """The centroid of the C-alphas of the named residues of a loaded receptor."""
    ids = {rid: i for i, rid in enumerate(receptor.residue_ids)}
    missing = [r for r in residues if r not in ids]
    if missing:
        raise InputError(protein_name, f"pocket residue(s) {', '.join(missing)} not found among its "
                                       f"{len(ids)} amino-acid residues")
    center = receptor.ca_pos[[ids[r] for r in residues]].astype(np.float64).mean(0)
    return Pocket(tuple(float(v) for v in center), radius, "residues:" + ",".join(residues))
