"""Rotatable bonds, the atoms each one moves, and torsion changes applied to coordinates.

A bond is rotatable when it is a single bond outside any ring whose removal splits its fragment into
two parts of at least two atoms each (turning it then changes the shape). Double, triple and
aromatic bonds are not: turning them would change stereochemistry, which conformer matching must
keep. For each rotatable bond (u, v) the smaller side moves, and v is the atom on that side.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem


def _side_of(adjacency: list[list[int]], start: int, blocked: int) -> list[int]:
    """Atoms reachable from `start` without stepping onto `blocked` (the other end of the bond)."""
    seen = {start}
    stack = [start]
    while stack:
        atom = stack.pop()
        for nb in adjacency[atom]:
            if nb != blocked and nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return sorted(seen)


def rotatable_bonds(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """(bonds (R, 2) int64 as (u, v) with v on the moving side, masks (R, N) bool of moving atoms)."""
    n = mol.GetNumAtoms()
    adjacency = [[nb.GetIdx() for nb in atom.GetNeighbors()] for atom in mol.GetAtoms()]
    bonds, masks = [], []
    for bond in mol.GetBonds():
        if bond.IsInRing() or bond.GetBondType() != Chem.BondType.SINGLE:
            continue
        u, v = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        side_v = _side_of(adjacency, v, u)
        if u in side_v:  # cannot happen outside rings, kept as a guard
            continue
        side_u = _side_of(adjacency, u, v)
        if len(side_u) < 2 or len(side_v) < 2:
            continue
        if len(side_u) < len(side_v):
            u, v, side_v = v, u, side_u
        mask = np.zeros(n, dtype=bool)
        mask[side_v] = True
        bonds.append((u, v))
        masks.append(mask)
    return (np.asarray(bonds, dtype=np.int64).reshape(-1, 2),
            np.asarray(masks, dtype=bool).reshape(-1, n))


def rotate_about_bond(pos: np.ndarray, u: int, v: int, mask: np.ndarray, angle: float) -> np.ndarray:
    """Turn the masked atoms by `angle` (radians, right-handed about u->v); returns new coordinates."""
    axis = pos[v] - pos[u]
    axis = axis / np.linalg.norm(axis)
    moved = pos[mask] - pos[v]
    cos, sin = np.cos(angle), np.sin(angle)
    # Rodrigues' rotation formula
    rotated = (moved * cos + np.cross(axis, moved) * sin + np.outer(moved @ axis, axis) * (1.0 - cos))
    out = pos.copy()
    out[mask] = rotated + pos[v]
    return out


def apply_torsion_changes(pos: np.ndarray, bonds: np.ndarray, masks: np.ndarray,
                          changes: np.ndarray) -> np.ndarray:
    """Add `changes[r]` radians to the torsion of every rotatable bond r, one bond after another."""
    out = np.asarray(pos, dtype=np.float64).copy()
    for (u, v), mask, angle in zip(bonds, masks, changes):
        if angle != 0.0:
            out = rotate_about_bond(out, int(u), int(v), mask, float(angle))
    return out


def dihedral(pos: np.ndarray, a: int, b: int, c: int, d: int) -> float:
    """Signed dihedral angle a-b-c-d in radians, in (-pi, pi]."""
    b0, b1, b2 = pos[a] - pos[b], pos[c] - pos[b], pos[d] - pos[c]
    b1n = b1 / np.linalg.norm(b1)
    v = b0 - (b0 @ b1n) * b1n
    w = b2 - (b2 @ b1n) * b1n
    return float(np.arctan2(np.cross(b1n, v) @ w, v @ w))


def torsion_atoms(mol: Chem.Mol, bonds: np.ndarray) -> np.ndarray:
    """(R, 4) reference quadruples (a, u, v, d) defining each rotatable bond's torsion angle."""
    quads = []
    for u, v in bonds:
        a = min(nb.GetIdx() for nb in mol.GetAtomWithIdx(int(u)).GetNeighbors() if nb.GetIdx() != v)
        d = min(nb.GetIdx() for nb in mol.GetAtomWithIdx(int(v)).GetNeighbors() if nb.GetIdx() != u)
        quads.append((a, int(u), int(v), d))
    return np.asarray(quads, dtype=np.int64).reshape(-1, 4)


def torsion_angles(pos: np.ndarray, quads: np.ndarray) -> np.ndarray:
    return np.asarray([dihedral(pos, *q) for q in quads], dtype=np.float64)


def set_torsion_angles(pos: np.ndarray, bonds: np.ndarray, masks: np.ndarray, quads: np.ndarray,
                       angles: np.ndarray) -> np.ndarray:
    """Coordinates whose torsions (measured by `quads`) equal `angles` (set one bond at a time)."""
    out = np.asarray(pos, dtype=np.float64).copy()
    for r, ((u, v), mask) in enumerate(zip(bonds, masks)):
        current = dihedral(out, *quads[r])
        out = rotate_about_bond(out, int(u), int(v), mask, float(angles[r] - current))
    return out
