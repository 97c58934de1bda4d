"""The interaction energy of a ligand at a site, built once and shared: receptor grid maps per site and cube
size, typed receptor atoms per site and reach. A screen docks many ligands into the same sites, so the maps and
atom sets are cached; each is keyed by the ligand's size class (whole 2 A steps), so that a ligand reads the same
maps and atoms whatever was docked before it (a --resume or a --shard gives the same energies and poses)."""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
from rdkit import Chem

from data_prep.receptor import Receptor
from docking.physics.grid_maps import GridBox, GridInteractionEnergy, ReceptorGrids
from docking.physics.interaction_energy import CUTOFF_A, InteractionEnergy, TypedAtoms, receptor_atoms

GRID_MARGIN_A = 6.0          # the site's grid box reaches this far beyond the ligand's extent
MIN_GRID_HALF_SIZE_A = 12.0


class SiteEnergies:
    """Energies of ligands at sites. `start_spread_A` is how far from the site centre a pose may start (three
    translation sigmas of the sampler): the pairwise energy sees the receptor atoms that far plus the cutoff."""

    def __init__(self, kind: str, start_spread_A: float, cache_size: int = 16):
        self.kind, self.start_spread_A, self.cache_size = kind, start_spread_A, cache_size
        self._grids: OrderedDict[tuple, ReceptorGrids] = OrderedDict()
        self._atoms: OrderedDict[tuple, TypedAtoms] = OrderedDict()

    def energy(self, receptor: Receptor, center: torch.Tensor, mol: Chem.Mol, conformer: torch.Tensor,
               kind: str | None = None) -> InteractionEnergy | GridInteractionEnergy:
        """The interaction energy of one ligand at one site: read from the site's receptor grid maps or, with
        kind "pairwise", summed over the receptor atoms near the site. `kind` overrides the default kind."""
        extent = float(conformer.norm(dim=-1).max()) if len(conformer) else 0.0
        kind = kind or self.kind
        if kind in ("grid", "grid+pairwise"):
            return GridInteractionEnergy.for_ligand(mol, self.grids(receptor, center, extent))
        return InteractionEnergy.for_ligand(mol, self.atoms(receptor, center, extent))

    def grids(self, receptor: Receptor, center: torch.Tensor, extent: float) -> ReceptorGrids:
        """The grid maps of a site: a cube reaching GRID_MARGIN_A beyond the ligand (at least
        MIN_GRID_HALF_SIZE_A from the centre, in steps of 2 A so that ligands of similar size share it)."""
        half = max(MIN_GRID_HALF_SIZE_A, 2.0 * math.ceil((extent + GRID_MARGIN_A) / 2.0))
        key = (_site_key(receptor, center), half)
        if key not in self._grids:
            atoms = receptor_atoms(receptor.heavy_atoms, center, half * math.sqrt(3) + CUTOFF_A)
            self._grids[key] = ReceptorGrids(atoms, GridBox.around(center, half))
        return _touch(self._grids, key, self.cache_size)

    def atoms(self, receptor: Receptor, center: torch.Tensor, extent: float) -> TypedAtoms:
        """The typed receptor atoms the pairwise energy sees around a site: within the ligand's extent, the
        start spread and the energy cutoff of the centre, rounded up to whole 2 A (the energy's sum over atoms
        rounds differently with more of them)."""
        reach = 2.0 * math.ceil((extent + self.start_spread_A + 8.0) / 2.0)
        key = (_site_key(receptor, center), reach)
        if key not in self._atoms:
            self._atoms[key] = receptor_atoms(receptor.heavy_atoms, center, reach)
        return _touch(self._atoms, key, self.cache_size)


def _site_key(receptor: Receptor, center: torch.Tensor) -> tuple:
    return str(Path(receptor.path).resolve()), tuple(round(float(v), 3) for v in center)


def _touch(cache: OrderedDict, key: tuple, size: int):
    """The cached value of `key`, now the most recent; the oldest dropped beyond `size`."""
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
    return cache[key]
