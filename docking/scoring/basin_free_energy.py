"""The free energy of a pose's basin: how much of the neighbourhood of a local minimum stays low in the energy.

Why: the default ranks its minimised poses by their energy, one point of each basin, and the right pose is often
second or third by a fraction of a kcal/mol (benchmarks/results/physics_ranker). A minimum held by a few tight
contacts is a narrow well; one where the ligand fits the pocket everywhere is broad, and holds more of the
ligand's configurations at the same depth. With random moves m of all degrees of freedom at once (translation,
rotation about the centroid, torsions), of typical size `amplitude` A,

    F = E0 - T log( mean_m exp(-(E_m - E0) / T) )

where E0 is the pose's energy and E_m the moved pose's: as moved ("harmonic", the local width of the well) or after
a short minimisation ("quenched", the share of the neighbourhood that falls back near E0). F >= E0 - T log M's
worth of luck; a broad well costs little above E0, a narrow one more. For a harmonic well k |t|^2 in translation
alone, F - E0 = 3/2 T log(1 + 2 k sigma^2 / T) with sigma^2 = amplitude^2 / 3 (tests/docking/test_basin_free_energy.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from docking.physics.local_minimization import minimize_poses, posed

Energy = Callable[[torch.Tensor], torch.Tensor]     # poses (B, N, 3) -> (B,)


@dataclass(frozen=True)
class BasinSettings:
    amplitude: float = 0.5          # RMS size of a move, A (translation; the rotation and torsions move atoms alike)
    temperature: float = 1.2        # T, in the energy's kcal/mol-like units
    moves: int = 32                 # M
    quench_steps: int = 0           # 0: harmonic; else the minimisation steps after each move

    @property
    def name(self) -> str:
        kind = f"quenched{self.quench_steps}" if self.quench_steps else "harmonic"
        return f"{kind}_a{self.amplitude:g}_T{self.temperature:g}"


def random_moves(pos: torch.Tensor, num_torsions: int, amplitude: float, generator: torch.Generator | None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(translation (B, 3), rotation vector (B, 3), torsion changes (B, R)) for poses pos (B, N, 3): Gaussian, each
    moving atoms by about `amplitude` A RMS (the rotation scaled by the pose's radius of gyration, the torsions by a
    3 A lever)."""
    batch = pos.shape[0]
    centred = pos - pos.mean(dim=1, keepdim=True)
    gyration = centred.pow(2).sum(-1).mean(-1).sqrt().clamp(min=1.0)
    draw = lambda *shape: torch.randn(*shape, generator=generator).to(pos.device)   # noqa: E731
    translation = draw(batch, 3) * amplitude / math.sqrt(3)
    rotvec = draw(batch, 3) * (amplitude / gyration[:, None]) / math.sqrt(3)
    torsion = draw(batch, num_torsions) * amplitude / 3.0
    return translation, rotvec, torsion


@torch.no_grad()
def basin_rises(energy: Energy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                settings: BasinSettings, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(E0 (P,), E_m - E0 (P, M)) of poses pos (P, N, 3), each taken as its own minimum (minimise them first).
    The temperature plays no part here, so one set of moves serves every T (`free_energy`)."""
    poses = pos.shape[0]
    start = pos.float()
    e0 = energy(start)
    repeated = start.repeat_interleave(settings.moves, dim=0)                        # (P*M, N, 3), pose-major
    translation, rotvec, torsion = random_moves(repeated, rot_bonds.shape[0], settings.amplitude, generator)
    moved = posed(repeated, translation, rotvec, torsion, rot_bonds, rot_masks)
    if settings.quench_steps:
        _, moved_energy = minimize_poses(energy, moved, rot_bonds, rot_masks, settings.quench_steps)
    else:
        moved_energy = energy(moved)
    return e0, moved_energy.reshape(poses, settings.moves) - e0[:, None]


def free_energy(e0: torch.Tensor, rise: torch.Tensor, temperature: float) -> torch.Tensor:
    """F = E0 - T log mean exp(-rise / T), per pose."""
    return e0 - temperature * (torch.logsumexp(-rise / temperature, dim=1) - math.log(rise.shape[1]))


def basin_free_energy(energy: Energy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                      settings: BasinSettings, generator: torch.Generator | None = None) -> torch.Tensor:
    """F (P,) of poses pos (P, N, 3), each taken as its own minimum (minimise them first)."""
    e0, rise = basin_rises(energy, pos, rot_bonds, rot_masks, settings, generator)
    return free_energy(e0, rise, settings.temperature)
