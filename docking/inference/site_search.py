"""Candidate binding sites for blind docking, found as buried cavities in the protein's heavy atoms.

Why: a pocket-conditioned model docks well only where it is told to look, so blind docking is only as
good as its list of sites. Ligands bind in clefts that the protein surrounds on most sides; this is the
grid-and-rays idea of LIGSITE (Hendlich et al., J. Mol. Graph. Model. 1997):

    1. a 1 A grid over the protein; a point is solvent when no heavy atom is within 3 A of it (room
       for a ligand atom's centre);
    2. from every solvent point, 14 rays (the 6 axes and 8 cube diagonals) of up to 10 A: its
       buriedness is the number of rays that hit protein;
    3. solvent points hit by at least 13 of the 14 rays are cavity points; touching cavity points
       (26-neighbourhood) form one pocket; pockets under 20 points (20 A^3) are dropped;
    4. a pocket's site is its core: the cavity point with the most buriedness within 6 A around it,
       the site centre the buriedness-weighted mean of the points within those 6 A. Pockets are
       ranked by that core buriedness, so a ligand-sized deep cleft beats a long shallow groove.

The thresholds were chosen on the train split (`disco bench pockets`, benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from docking.inference.given_sites import Pocket

RAY_DIRECTIONS = np.array([d for d in np.ndindex(3, 3, 3) if sum(abs(c - 1) for c in d) in (1, 3)]) - 1


@dataclass(frozen=True)
class PocketFinderSettings:
    spacing: float = 1.0            # grid spacing, A
    clearance: float = 3.0          # a solvent point has no heavy atom closer than this, A
    ray_length: float = 10.0        # how far a ray looks for protein, A
    min_buried: int = 13            # rays (of 14) that must hit protein for a cavity point
    min_points: int = 20            # smallest pocket kept, in grid points
    core_radius: float = 6.0        # radius of a pocket's core (about a drug-like ligand's), A
    min_separation: float = 8.0     # sites closer than this to a better one are dropped, A


@dataclass(frozen=True)
class FoundPocket:
    center: tuple[float, float, float]
    points: int          # the whole pocket's volume, in grid points
    score: float         # buriedness summed over the core (the ranking key)


def _shifted(grid: np.ndarray, offset: tuple[int, ...]) -> np.ndarray:
    """grid[i + offset] at every i (False beyond the edge)."""
    out = np.zeros_like(grid)
    src, dst = [], []
    for o, n in zip(offset, grid.shape):
        if abs(o) >= n:
            return out
        src.append(slice(max(o, 0), n + min(o, 0)))
        dst.append(slice(max(-o, 0), n - max(o, 0)))
    out[tuple(dst)] = grid[tuple(src)]
    return out


def buriedness(occupied: np.ndarray, steps: int) -> np.ndarray:
    """For every grid point, how many of the 14 rays reach an occupied point within `steps` grid
    spacings of distance (diagonal rays take fewer, longer steps)."""
    count = np.zeros(occupied.shape, dtype=np.int8)
    for direction in RAY_DIRECTIONS:
        hit = np.zeros_like(occupied)
        reach = steps if np.abs(direction).sum() == 1 else max(1, int(round(steps / np.sqrt(3))))
        for k in range(1, reach + 1):
            hit |= _shifted(occupied, tuple(int(c) * k for c in direction))
        count += hit
    return count


def find_pockets(heavy_atoms: np.ndarray, settings: PocketFinderSettings | None = None) -> list[FoundPocket]:
    """All pockets of a protein given its heavy-atom coordinates (A, 3), best first."""
    s = settings or PocketFinderSettings()
    atoms = np.asarray(heavy_atoms, dtype=np.float64).reshape(-1, 3)
    if len(atoms) == 0:
        return []
    margin = s.clearance + s.spacing
    low = atoms.min(0) - margin
    shape = tuple(int(np.ceil(extent / s.spacing)) + 1 for extent in atoms.max(0) + margin - low)
    points = low + np.indices(shape).reshape(3, -1).T * s.spacing
    nearest, _ = cKDTree(atoms).query(points, distance_upper_bound=s.clearance)
    occupied = np.isfinite(nearest).reshape(shape)
    buried = buriedness(occupied, int(round(s.ray_length / s.spacing)))
    cavity = ~occupied & (buried >= s.min_buried)
    labels, count = ndimage.label(cavity, structure=np.ones((3, 3, 3), dtype=bool))
    flat_labels, flat_buried = labels.reshape(-1), buried.reshape(-1).astype(np.float64)
    sizes = np.bincount(flat_labels, minlength=count + 1)
    pockets = []
    for label in range(1, count + 1):
        if sizes[label] < s.min_points:
            continue
        members = flat_labels == label
        positions, weights = points[members], flat_buried[members]
        tree = cKDTree(positions)
        core_sums = np.array([weights[near].sum() for near in tree.query_ball_point(positions, s.core_radius)])
        core = tree.query_ball_point(positions[np.argmax(core_sums)], s.core_radius)
        center = np.average(positions[core], axis=0, weights=weights[core])
        pockets.append(FoundPocket(tuple(float(v) for v in center), int(sizes[label]), float(core_sums.max())))
    return sorted(pockets, key=lambda pocket: -pocket.score)


def candidate_sites(heavy_atoms: np.ndarray, max_sites: int = 4,
                    settings: PocketFinderSettings | None = None) -> list[Pocket]:
    """Blind docking's search sites: the `max_sites` best pockets at least `min_separation` apart; the
    heavy-atom centroid when the protein has no pocket at all (a peptide, a single helix)."""
    s = settings or PocketFinderSettings()
    sites: list[Pocket] = []
    for pocket in find_pockets(heavy_atoms, s):
        if len(sites) == max_sites:
            break
        center = np.array(pocket.center)
        if all(np.linalg.norm(center - np.array(site.center)) >= s.min_separation for site in sites):
            sites.append(Pocket(pocket.center, None, f"blind-site-{len(sites) + 1}"))
    if not sites:
        centroid = np.asarray(heavy_atoms, dtype=np.float64).reshape(-1, 3).mean(0)
        sites.append(Pocket(tuple(float(v) for v in centroid), None, "blind-centroid"))
    return sites
