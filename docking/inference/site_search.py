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

A blind run lists its candidate sites for the user (OUT/<name>/sites.csv, docking.runs.outputs): each site's
centre, score (the core buriedness above), the pocket's volume and the residues lining its core (a heavy
atom within clearance + spacing, 4 A, of a core point), and whether it was docked. A protein with no pocket
has no site: blind docking refuses it with one line (`NoCavityError`) rather than docking at a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from data_prep.protein import WATER_NAMES, read_first_model
from disco_core.errors import InputError
from docking.inference.given_sites import Pocket

MAX_GRID_POINTS = 40_000_000   # a 340 A cube at 1 A; the largest shared protein (4kya) needs 7.9 million
LISTED_SITES = 10               # sites a blind run lists in sites.csv (at least --blind-sites): the bench's recall@10

CENTERS = ("core", "core_mean", "pocket")
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
    center: str = "core"            # a site's centre: "core" (buriedness-weighted centroid of the core),
                                    # "core_mean" (plain centroid of the core) or "pocket" (of all its points)


@dataclass(frozen=True)
class FoundPocket:
    center: tuple[float, float, float]
    points: int          # the whole pocket's volume, in grid points
    score: float         # buriedness summed over the core (the ranking key)
    core: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), compare=False, repr=False)  # (P, 3) core points


@dataclass(frozen=True)
class CandidateSite:
    """One candidate site of a blind run, as OUT/<name>/sites.csv lists it."""
    rank: int                                # 1-based, best first (the finder's order after the separation cut)
    center: tuple[float, float, float]
    score: float                             # the finder's score: buriedness summed over the core
    volume_A3: float                         # the whole pocket's volume
    residues: tuple[str, ...]                # lining the core: "A:TYR45" (chain:name number[insertion code])
    docked: bool                             # among the --blind-sites sites that were docked

    @property
    def label(self) -> str:
        """The `site` every pose docked here carries."""
        return f"blind-site-{self.rank}"


class NoCavityError(InputError):
    """Blind docking of a protein in which the site search finds no pocket."""

    def __init__(self, protein: str):
        super().__init__(protein, "no cavity that the blind site search accepts (no buried pocket of at least "
                                  f"{PocketFinderSettings().min_points} A^3); give the site with --pocket-center X Y Z "
                                  "or --autobox-ligand REF.sdf")


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


def occupied_grid(atoms: np.ndarray, low: np.ndarray, shape: tuple[int, ...], spacing: float,
                  clearance: float) -> np.ndarray:
    """Boolean grid (`shape`, origin `low`): the points with a heavy atom closer than `clearance`. Each atom marks
    the points around it, one integer offset at a time, so the cost grows with the atoms, not with the box
    (a kd-tree query of every box point was nine tenths of the search on an eight-chain protein)."""
    occupied = np.zeros(shape, dtype=bool)
    reach = int(np.ceil(clearance / spacing))
    base = np.floor((atoms - low) / spacing).astype(np.int64)     # the cell's lower corner: atom - corner in [0, 1)
    limit = np.array(shape)
    steps = np.arange(-reach, reach + 2)
    for offset in np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3):
        # the closest this offset's point can be to an atom anywhere in its cell
        if ((np.maximum(0, np.maximum(offset - 1, -offset)) * spacing) ** 2).sum() >= clearance ** 2:
            continue
        index = base + offset
        inside = ((index >= 0) & (index < limit)).all(1)
        close = ((low + index * spacing - atoms) ** 2).sum(1) < clearance ** 2
        hit = index[inside & close]
        occupied[hit[:, 0], hit[:, 1], hit[:, 2]] = True
    return occupied


def search_grid(atoms: np.ndarray, settings: PocketFinderSettings) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Origin and shape of the grid over the protein's bounding box (plus the clearance and one spacing)."""
    margin = settings.clearance + settings.spacing
    low = atoms.min(0) - margin
    return low, tuple(int(np.ceil(extent / settings.spacing)) + 1 for extent in atoms.max(0) + margin - low)


def find_pockets(heavy_atoms: np.ndarray, settings: PocketFinderSettings | None = None) -> list[FoundPocket]:
    """All pockets of a protein given its heavy-atom coordinates (A, 3), best first."""
    s = settings or PocketFinderSettings()
    if s.center not in CENTERS:
        raise ValueError(f"PocketFinderSettings.center must be one of {CENTERS}, not {s.center!r}")
    atoms = np.asarray(heavy_atoms, dtype=np.float64).reshape(-1, 3)
    if len(atoms) == 0:
        return []
    low, shape = search_grid(atoms, s)
    occupied = occupied_grid(atoms, low, shape, s.spacing, s.clearance)
    buried = buriedness(occupied, int(round(s.ray_length / s.spacing)))
    cavity = ~occupied & (buried >= s.min_buried)
    labels, count = ndimage.label(cavity, structure=np.ones((3, 3, 3), dtype=bool))
    flat_labels, flat_buried = labels.reshape(-1), buried.reshape(-1)
    sizes = np.bincount(flat_labels, minlength=count + 1)
    kept = np.flatnonzero(sizes >= s.min_points)
    kept = kept[kept > 0]
    in_pocket = np.flatnonzero(np.isin(flat_labels, kept))          # the grid points of every kept pocket
    pocket_of = flat_labels[in_pocket]
    pockets = []
    for label in kept:
        members = in_pocket[pocket_of == label]
        positions = low + np.stack(np.unravel_index(members, shape), axis=1) * s.spacing
        weights = flat_buried[members].astype(np.float64)
        tree = cKDTree(positions)
        core_sums = np.array([weights[near].sum() for near in tree.query_ball_point(positions, s.core_radius)])
        core = tree.query_ball_point(positions[np.argmax(core_sums)], s.core_radius)
        center = (positions.mean(0) if s.center == "pocket" else positions[core].mean(0) if s.center == "core_mean"
                  else np.average(positions[core], axis=0, weights=weights[core]))
        pockets.append(FoundPocket(tuple(float(v) for v in center), int(sizes[label]), float(core_sums.max()),
                                   positions[core]))
    return sorted(pockets, key=lambda pocket: -pocket.score)


def separated_pockets(heavy_atoms: np.ndarray, max_sites: int = 4,
                      settings: PocketFinderSettings | None = None) -> list[FoundPocket]:
    """The `max_sites` best pockets at least `min_separation` apart, best first (none when the protein has no
    pocket: a peptide, a single helix). Greedy in rank order, so the first k of a longer list are the list
    asked for with k."""
    s = settings or PocketFinderSettings()
    kept: list[FoundPocket] = []
    for pocket in find_pockets(heavy_atoms, s):
        if len(kept) == max_sites:
            break
        center = np.array(pocket.center)
        if all(np.linalg.norm(center - np.array(other.center)) >= s.min_separation for other in kept):
            kept.append(pocket)
    return kept


def candidate_sites(heavy_atoms: np.ndarray, max_sites: int = 4,
                    settings: PocketFinderSettings | None = None) -> list[Pocket]:
    """Blind docking's search sites: the `max_sites` best pockets at least `min_separation` apart, labelled
    blind-site-1, -2, ...; an empty list when the protein has no pocket."""
    return [Pocket(pocket.center, None, f"blind-site-{rank}")
            for rank, pocket in enumerate(separated_pockets(heavy_atoms, max_sites, settings), start=1)]


def lining_residues(protein_path: str | Path, points: list[np.ndarray], cutoff: float) -> list[tuple[str, ...]]:
    """For each array of points in `points` ((P, 3) arrays), the residues of the protein file with a
    heavy atom within `cutoff` of one of them, in file order, as "A:TYR45" (the atoms the site search sees:
    the first model, waters and hydrogens left out, first alternate location)."""
    labels, positions = [], []
    for chain in read_first_model(protein_path):
        for residue in chain:
            if residue.name.upper() in WATER_NAMES:
                continue
            label = f"{chain.name.strip() or '_'}:{residue.name}{residue.seqid.num}{residue.seqid.icode.strip()}"
            for atom in residue:
                if not atom.element.is_hydrogen and atom.altloc in ("\0", " ", "A"):
                    labels.append(label)
                    positions.append(atom.pos.tolist())
    if not positions:
        return [() for _ in points]
    tree = cKDTree(np.asarray(positions, dtype=np.float64))
    lined = []
    for group in points:
        near = {i for hits in tree.query_ball_point(np.asarray(group).reshape(-1, 3), cutoff) for i in hits}
        lined.append(tuple(dict.fromkeys(labels[i] for i in sorted(near))))
    return lined


def blind_site_table(protein_path: str | Path, heavy_atoms: np.ndarray, docked: int,
                     listed: int = LISTED_SITES, settings: PocketFinderSettings | None = None) -> list[CandidateSite]:
    """The candidate sites of a blind run: the first max(`docked`, `listed`) separated pockets, the first
    `docked` of them marked docked (exactly candidate_sites(heavy_atoms, docked)). NoCavityError naming the
    protein when it has no pocket."""
    s = settings or PocketFinderSettings()
    atoms = np.asarray(heavy_atoms, dtype=np.float64).reshape(-1, 3)
    if len(atoms):
        _, shape = search_grid(atoms, s)
        if math.prod(shape) > MAX_GRID_POINTS:
            raise InputError(str(protein_path), "too large for the blind site search: its box is "
                             f"{' x '.join(f'{n * s.spacing:.0f}' for n in shape)} A ({math.prod(shape) / 1e6:.0f} "
                             f"million grid points; the limit is {MAX_GRID_POINTS / 1e6:.0f} million); give the site "
                             "with --pocket-center X Y Z or --autobox-ligand REF.sdf")
    pockets = separated_pockets(atoms, max(docked, listed), s)
    if not pockets:
        raise NoCavityError(str(protein_path))
    residues = lining_residues(protein_path, [p.core for p in pockets], s.clearance + s.spacing)
    return [CandidateSite(rank, pocket.center, pocket.score, pocket.points * s.spacing ** 3, lined, rank <= docked)
            for rank, (pocket, lined) in enumerate(zip(pockets, residues), start=1)]
