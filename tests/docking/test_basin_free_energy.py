"""docking.scoring.basin_free_energy against closed forms of a harmonic well.

A well in translation alone, E = k |c - c0|^2 (c the pose's centroid; rotations about the centroid and a rigid
ligand leave it unchanged), moved by t ~ N(0, sigma^2 I) with sigma^2 = amplitude^2 / 3:
mean exp(-k |t|^2 / T) = (1 + 2 k sigma^2 / T)^(-3/2), so F - E0 = 3/2 T log(1 + 2 k sigma^2 / T)."""

import math

import pytest
import torch

from docking.scoring.basin_free_energy import BasinSettings, basin_free_energy

NO_TORSIONS = (torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 5, dtype=torch.bool))


def well(k: float, center: torch.Tensor):
    return lambda pos: k * (pos.mean(dim=1) - center).pow(2).sum(-1)


def ligand(center: torch.Tensor) -> torch.Tensor:
    offsets = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [0, 1.5, 0], [0, 0, 1.5], [-1.2, -0.8, 0.4]])
    return (offsets - offsets.mean(0) + center)[None]


@pytest.mark.parametrize("k,amplitude,temperature", [(1.0, 0.5, 1.2), (4.0, 0.5, 0.6), (0.5, 1.0, 1.2)])
def test_harmonic_well_matches_the_closed_form(k, amplitude, temperature):
    center = torch.tensor([3.0, -2.0, 1.0])
    settings = BasinSettings(amplitude=amplitude, temperature=temperature, moves=200_000)
    f = basin_free_energy(well(k, center), ligand(center), *NO_TORSIONS, settings, torch.Generator().manual_seed(0))
    sigma2 = amplitude ** 2 / 3
    expected = 1.5 * temperature * math.log(1 + 2 * k * sigma2 / temperature)
    assert float(f[0]) == pytest.approx(expected, rel=0.02)


def test_a_narrow_well_ranks_below_a_broad_one_of_the_same_depth():
    center = torch.zeros(3)
    settings = BasinSettings(amplitude=0.5, temperature=1.2, moves=4096)
    poses = torch.cat([ligand(center), ligand(center + 10.0)])
    # two wells of depth -5: a stiff one at the origin, a soft one at (10, 10, 10)
    energy = lambda pos: torch.minimum(well(8.0, center)(pos), well(0.5, center + 10.0)(pos)) - 5.0  # noqa: E731
    f = basin_free_energy(energy, poses, *NO_TORSIONS, settings, torch.Generator().manual_seed(1))
    assert float(energy(poses)[0]) == float(energy(poses)[1]) == -5.0
    assert float(f[1]) < float(f[0])


def test_quenched_moves_fall_back_into_a_single_well():
    """Every quenched move returns to the one minimum: F = E0 (within the minimiser's last hundredths)."""
    center = torch.tensor([1.0, 2.0, 3.0])
    settings = BasinSettings(amplitude=1.0, temperature=1.2, moves=64, quench_steps=60)
    f = basin_free_energy(well(1.0, center), ligand(center), *NO_TORSIONS, settings, torch.Generator().manual_seed(2))
    assert abs(float(f[0])) < 0.02
