"""The pocket of the protein that takes part in a relaxation (`docking.physics.relax`): the residues
near the poses, gaps of up to MAX_FILLED_GAP residues between kept residues filled, and chain breaks
capped with ACE/NME built from the dropped neighbours' backbone atoms."""

from __future__ import annotations

import io

import numpy as np
from openmm import app, unit

PEPTIDE_BOND_MAX_NM = 0.2  # C(i)-N(i+1) closer than this counts as a peptide bond
MAX_FILLED_GAP = 2  # kept residues separated by at most this many residues are joined, not capped
CHAIN_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def crop_with_caps(topology: app.Topology, positions, points_nm: np.ndarray, radius_nm: float) -> str | None:
    """PDB text of the residues near the points: one chain per peptide segment, each end that was
    bonded to a dropped residue capped with ACE (its CA, C, O) or NME (its N, CA). None if empty."""
    xyz = np.asarray(positions.value_in_unit(unit.nanometer))
    out_topology, out_positions = app.Topology(), []
    segment_count = 0
    for chain in topology.chains():
        residues = list(chain.residues())
        keep = [_min_distance(xyz, r, points_nm) <= radius_nm for r in residues]
        bonded = [_peptide_bonded(xyz, residues[i], residues[i + 1]) for i in range(len(residues) - 1)]
        kept_idx = [i for i, k in enumerate(keep) if k]
        for a, b in zip(kept_idx, kept_idx[1:]):  # fill short gaps inside a continuous chain
            if 1 < b - a <= MAX_FILLED_GAP + 1 and all(bonded[a:b]):
                keep[a:b] = [True] * (b - a)
        i = 0
        while i < len(residues):
            if not keep[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(residues) and keep[j + 1] and bonded[j]:
                j += 1
            out_chain = out_topology.addChain(CHAIN_IDS[segment_count % len(CHAIN_IDS)])
            segment_count += 1
            if i > 0 and bonded[i - 1]:
                _add_cap(out_topology, out_chain, out_positions, xyz, residues[i - 1], "ACE", {"CA": "CH3", "C": "C", "O": "O"})
            for residue in residues[i : j + 1]:
                _add_cap(out_topology, out_chain, out_positions, xyz, residue, residue.name, None)
            if j + 1 < len(residues) and bonded[j]:
                _add_cap(out_topology, out_chain, out_positions, xyz, residues[j + 1], "NME", {"N": "N", "CA": "CH3"})
            i = j + 1
    if segment_count == 0:
        return None
    text = io.StringIO()
    app.PDBFile.writeFile(out_topology, np.array(out_positions) * unit.nanometer, text, keepIds=True)
    return text.getvalue()


def _add_cap(topology, chain, out_positions, xyz, residue, name: str, rename: dict[str, str] | None) -> None:
    """Copy `residue` (all atoms when rename is None, else only the renamed ones) as residue `name`."""
    new = topology.addResidue(name, chain, residue.id, residue.insertionCode)
    for atom in residue.atoms():
        if rename is None or atom.name in rename:
            new_name = atom.name if rename is None else rename[atom.name]
            topology.addAtom(new_name, atom.element, new)
            out_positions.append(xyz[atom.index])


def _min_distance(xyz: np.ndarray, residue, points: np.ndarray) -> float:
    atoms = xyz[[a.index for a in residue.atoms()]]
    return float(np.sqrt(((atoms[:, None, :] - points[None, :, :]) ** 2).sum(-1)).min())


def _peptide_bonded(xyz: np.ndarray, first, second) -> bool:
    c = [a.index for a in first.atoms() if a.name == "C"]
    n = [a.index for a in second.atoms() if a.name == "N"]
    return bool(c and n) and float(np.linalg.norm(xyz[c[0]] - xyz[n[0]])) < PEPTIDE_BOND_MAX_NM
