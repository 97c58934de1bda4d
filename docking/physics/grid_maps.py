"""Receptor grid maps of the interaction energy, as AutoDock and Vina precompute them.

Why: the intermolecular part of docking.physics.interaction_energy sums over every (ligand atom,
receptor atom) pair each time a pose is evaluated, and guidance, minimisation and basin hopping evaluate
it thousands of times against the same receptor. A ligand atom's intermolecular energy depends only on
where it is and on its class (X-Score radius, hydrophobic, donor, acceptor), so for each class present
the receptor's sum is tabulated once on a regular grid over the site (0.375 A, Vina's spacing) and read
by Catmull-Rom (cubic) interpolation along each axis (GridInteractionEnergy.read says why not trilinear):
the energy and gradient of every pose at once, at a cost that no longer
grows with the receptor.

    map_c(g) = sum_j pair_energy(|g - x_j|; class c, receptor atom j)        once per receptor and class
    E_inter(pose) = sum_i cubic(map_{c_i}, x_i) + OUTSIDE_SLOPE * (A that x_i lies outside the box)

Outside the box an atom gets the map's value at the nearest box point plus a penalty that grows by
OUTSIDE_SLOPE per Angstrom (Vina, too, penalises atoms that leave its grid), so a pose that drifts out
is pulled back. Building a map is itself accelerated: each (class, receptor class) pair's energy is a
function of distance alone, tabulated finely (0.005 A) and interpolated, so a grid point costs one
distance and two table reads per receptor atom within the cutoff. The pairwise path stays the reference
(tests/docking/test_grid_maps.py compares the two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from rdkit import Chem

from disco_core.errors import InputError
from docking.physics.interaction_energy import (CUTOFF_A, InteractionEnergy, TypedAtoms, ligand_atoms,
                                               ligand_internal_pairs, pair_energy)

SPACING_A = 0.375
OUTSIDE_SLOPE = 1.0                 # kcal/mol per Angstrom an atom lies outside the box
MAX_POINTS_PER_MAP = 4_000_000      # a box larger than this (~ 60 A a side at 0.375 A) is refused
TABLE_STEP_A = 0.005                # distance step of the radial tables the maps are built from
BLOCK = 12                          # grid points per block side while building (a block sees the atoms near it)

AtomClass = tuple[float, bool, bool, bool]     # (X-Score radius, hydrophobic, donor, acceptor)


def atom_classes(atoms: TypedAtoms) -> list[AtomClass]:
    """Each atom's class, in atom order."""
    return [(round(float(r), 3), bool(h), bool(d), bool(a))
            for r, h, d, a in zip(atoms.radius, atoms.hydrophobic, atoms.donor, atoms.acceptor)]


@dataclass(frozen=True)
class GridBox:
    """A regular grid: `shape` points per axis from `origin` (the lower corner, A) every `spacing` A."""

    origin: tuple[float, float, float]
    shape: tuple[int, int, int]
    spacing: float = SPACING_A

    @classmethod
    def around(cls, center: torch.Tensor | tuple, half_size: float, spacing: float = SPACING_A) -> "GridBox":
        """The cube center +- half_size, refused (InputError naming its size) when a map would not fit."""
        points = int(math.ceil(2 * half_size / spacing)) + 1
        if points ** 3 > MAX_POINTS_PER_MAP:
            side = 2 * half_size
            raise InputError("site box", f"{side:.0f} x {side:.0f} x {side:.0f} A needs {points ** 3:,} grid points "
                                         f"per map at {spacing} A (at most {MAX_POINTS_PER_MAP:,}); give a smaller "
                                         f"--pocket-radius")
        center = torch.as_tensor(center, dtype=torch.float64).reshape(3)
        origin = center - (points - 1) * spacing / 2
        return cls(tuple(float(v) for v in origin), (points,) * 3, spacing)

    def points(self, device: torch.device | str = "cpu") -> torch.Tensor:
        axes = [self.origin[k] + self.spacing * torch.arange(self.shape[k], dtype=torch.float64, device=device)
                for k in range(3)]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)

    def contains(self, pos: torch.Tensor) -> torch.Tensor:
        """(...,) whether each point (..., 3) lies inside the box."""
        origin = torch.tensor(self.origin, dtype=pos.dtype, device=pos.device)
        upper = origin + self.spacing * (torch.tensor(self.shape, dtype=pos.dtype, device=pos.device) - 1)
        return ((pos >= origin) & (pos <= upper)).all(-1)


def _radial_tables(ligand_class: AtomClass, receptor_classes: list[AtomClass]) -> torch.Tensor:
    """(receptor classes, K) pair energy of the ligand class against each receptor class at distances
    0, TABLE_STEP_A, ..., CUTOFF_A."""
    distance = torch.arange(0.0, CUTOFF_A + 2 * TABLE_STEP_A, TABLE_STEP_A, dtype=torch.float64)
    radius, hydrophobic, donor, acceptor = ligand_class
    rows = []
    for r, h, d, a in receptor_classes:
        rows.append(pair_energy(distance, torch.tensor(radius + r, dtype=torch.float64),
                                torch.tensor(float(hydrophobic and h), dtype=torch.float64),
                                torch.tensor(float((donor and a) or (acceptor and d)), dtype=torch.float64)))
    return torch.stack(rows)


def _receptor_classes(receptor: TypedAtoms) -> tuple[torch.Tensor, list[AtomClass]]:
    classes = atom_classes(receptor)
    unique = sorted(set(classes))
    lookup = {c: i for i, c in enumerate(unique)}
    return torch.tensor([lookup[c] for c in classes], dtype=torch.long), unique


@torch.no_grad()
def build_maps(receptor: TypedAtoms, box: GridBox, classes: list[AtomClass]) -> torch.Tensor:
    """(len(classes), *box.shape) float32 maps of the receptor's intermolecular energy per ligand class."""
    device = receptor.pos.device
    rec_pos = receptor.pos.float()
    rec_class, rec_classes = _receptor_classes(receptor.to("cpu"))
    rec_class = rec_class.to(device)
    tables = torch.stack([_radial_tables(c, rec_classes) for c in classes]).float().to(device)   # (C, R, K)
    size = tables.shape[-1]
    rows = tables.permute(1, 2, 0).reshape(-1, len(classes))              # (R * K, C): one read gives every class
    points = box.points(device).float()
    maps = torch.zeros(*box.shape, len(classes), device=device)
    nx, ny, nz = box.shape
    for i in range(0, nx, BLOCK):
        for j in range(0, ny, BLOCK):
            for k in range(0, nz, BLOCK):
                block = points[i:i + BLOCK, j:j + BLOCK, k:k + BLOCK]
                flat = block.reshape(-1, 3)
                low, high = flat.min(0).values - CUTOFF_A, flat.max(0).values + CUTOFF_A
                near = torch.nonzero(((rec_pos >= low) & (rec_pos <= high)).all(-1)).flatten()
                if len(near) == 0:
                    continue
                distance = torch.cdist(flat, rec_pos[near])                     # (P, M)
                point, atom = torch.nonzero(distance < CUTOFF_A, as_tuple=True)  # pairs within the cutoff
                position = distance[point, atom] / TABLE_STEP_A
                lower = position.long()
                frac = (position - lower)[:, None]
                index = rec_class[near][atom] * size + lower
                value = rows[index] * (1 - frac) + rows[index + 1] * frac          # (pairs, C)
                energy = torch.zeros(len(flat), len(classes), device=device).index_add_(0, point, value)
                maps[i:i + BLOCK, j:j + BLOCK, k:k + BLOCK] = energy.reshape(*block.shape[:3], len(classes))
    return maps.permute(3, 0, 1, 2).contiguous()


class ReceptorGrids:
    """The maps of one receptor over one box, for the ligand classes asked for so far (a screen adds the
    classes its new ligands bring; each map is built once)."""

    def __init__(self, receptor: TypedAtoms, box: GridBox):
        self.receptor, self.box = receptor, box
        self.classes: list[AtomClass] = []
        self.maps = torch.zeros(0, *box.shape, device=receptor.pos.device)

    def class_index(self, ligand: TypedAtoms) -> torch.Tensor:
        """(N,) the map of each ligand atom, building the maps of classes not seen before."""
        wanted = atom_classes(ligand)
        missing = sorted(set(wanted) - set(self.classes))
        if missing:
            self.maps = torch.cat([self.maps, build_maps(self.receptor, self.box, missing)])
            self.classes += missing
        lookup = {c: i for i, c in enumerate(self.classes)}
        return torch.tensor([lookup[c] for c in wanted], dtype=torch.long, device=self.maps.device)

    def energy(self, pos: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
        """(B,) intermolecular energy of poses (B, N, 3) whose atoms read the maps class_index (N,):
        Catmull-Rom (cubic) interpolation along each axis, which passes through the map values and, unlike
        trilinear interpolation, does not overestimate the convex repulsion between grid points. Its gradient
        is the interpolant's own, computed with the values (see _CubicMapRead)."""
        maps = self.maps.to(pos.device)
        return _CubicMapRead.apply(pos.float(), maps, class_index, self.box.origin, self.box.spacing)


def _catmull_rom_weights(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 4) weights of the points at offsets -1, 0, 1, 2 for fractional positions t (...), and their
    derivatives in t."""
    t2, t3 = t * t, t * t * t
    weights = torch.stack([(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2,
                           (t3 - t2) / 2], dim=-1)
    slopes = torch.stack([(-3 * t2 + 4 * t - 1) / 2, (9 * t2 - 10 * t) / 2, (-9 * t2 + 8 * t + 1) / 2,
                          (3 * t2 - 2 * t) / 2], dim=-1)
    return weights, slopes


class _CubicMapRead(torch.autograd.Function):
    """sum_i map_{c_i}(x_i) + OUTSIDE_SLOPE * (distance of x_i outside the box), per pose, with the gradient
    in x computed in the same pass from the weights' derivatives.

    Why a Function: guidance, minimisation and basin hopping read the maps tens of thousands of times;
    autograd through the 64-point gather records and replays a dozen indexing operations per read, while
    the analytic gradient of a separable cubic is three more contractions of the values already gathered."""

    @staticmethod
    def forward(ctx, pos: torch.Tensor, maps: torch.Tensor, class_index: torch.Tensor,
                origin: tuple[float, float, float], spacing: float) -> torch.Tensor:
        _, nx, ny, nz = maps.shape
        shape = torch.tensor((nx, ny, nz), device=pos.device)
        grid = (pos - torch.tensor(origin, dtype=pos.dtype, device=pos.device)) / spacing   # (B, N, 3) grid units
        inside = torch.minimum(grid.clamp(min=0.0), (shape - 1).to(pos.dtype))
        beyond = grid - inside
        lower = inside.floor().long().minimum(shape - 2)
        weights, slopes = _catmull_rom_weights(inside - lower)                 # (B, N, 3, 4) each
        axis = (lower[..., None] + torch.arange(-1, 3, device=pos.device)).clamp(min=0)
        axis = axis.minimum((shape - 1)[:, None])                              # (B, N, 3, 4) point index per axis
        ix, iy, iz = axis.unbind(-2)
        index = (((class_index[None, :, None] * nx + ix)[..., :, None] * ny + iy[..., None, :])[..., None] * nz
                 + iz[..., None, None, :])                                     # (B, N, 4, 4, 4)
        values = maps.reshape(-1)[index]
        wx, wy, wz = weights.unbind(-2)
        along_z = (values * wz[..., None, None, :]).sum(-1)                   # (B, N, 4, 4)
        along_yz = (along_z * wy[..., None, :]).sum(-1)                       # (B, N, 4)
        energy = (along_yz * wx).sum(-1) + OUTSIDE_SLOPE * spacing * beyond.abs().sum(-1)
        if ctx.needs_input_grad[0]:
            dx, dy, dz = slopes.unbind(-2)
            moving = (beyond == 0).to(pos.dtype)                               # clamped axes do not move the read
            gradient = torch.stack([(along_yz * dx).sum(-1),
                                    ((along_z * dy[..., None, :]).sum(-1) * wx).sum(-1),
                                    (((values * dz[..., None, None, :]).sum(-1) * wy[..., None, :]).sum(-1)
                                     * wx).sum(-1)], dim=-1) * moving / spacing
            ctx.save_for_backward(gradient + OUTSIDE_SLOPE * beyond.sign())
        return energy.sum(-1)

    @staticmethod
    def backward(ctx, grad_energy: torch.Tensor):
        (gradient,) = ctx.saved_tensors
        return grad_energy[:, None, None] * gradient, None, None, None, None


class GridInteractionEnergy:
    """The interaction energy with its intermolecular part read from receptor grids; the ligand's internal
    part stays pairwise. Same interface as docking.physics.interaction_energy.InteractionEnergy."""

    def __init__(self, grids: ReceptorGrids, class_index: torch.Tensor, internal: InteractionEnergy):
        self.grids, self.class_index, self.internal_energy = grids, class_index, internal

    @classmethod
    def for_ligand(cls, mol: Chem.Mol, grids: ReceptorGrids) -> "GridInteractionEnergy":
        """The energy of a heavy-atom ligand against the grids' receptor and box (as InteractionEnergy.for_ligand
        against receptor atoms); its internal part is the pairwise one without receptor atoms."""
        no_receptor = grids.receptor.select(torch.zeros(len(grids.receptor.pos), dtype=torch.bool))
        internal = InteractionEnergy(ligand_atoms(mol), no_receptor, ligand_internal_pairs(mol))
        return cls(grids, grids.class_index(internal.ligand), internal)

    @property
    def ligand(self) -> TypedAtoms:
        return self.internal_energy.ligand

    def to(self, device: torch.device | str) -> "GridInteractionEnergy":
        if self.grids.maps.device != torch.device(device):
            self.grids.maps = self.grids.maps.to(device)
        return GridInteractionEnergy(self.grids, self.class_index.to(device), self.internal_energy.to(device))

    def near(self, center: torch.Tensor, radius: float) -> "GridInteractionEnergy":
        """A grid's cost does not depend on the receptor's size: nothing to crop."""
        return self

    def intermolecular(self, pos: torch.Tensor) -> torch.Tensor:
        return self.grids.energy(pos, self.class_index)

    def internal(self, pos: torch.Tensor) -> torch.Tensor:
        return self.internal_energy.internal(pos)

    def __call__(self, pos: torch.Tensor) -> torch.Tensor:
        return self.intermolecular(pos) + self.internal(pos)
