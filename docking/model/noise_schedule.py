"""Geometric noise schedules for the three pose components, sigma(t) = sigma_min^(1-t) sigma_max^t.

Each component is a variance-exploding diffusion whose marginal at time t has "variance" v(t), with
v = sigma^2 for translations (Gaussian) and torsions (wrapped normal) and v = 2 sigma^2 for rotations
(IGSO(3) in the DiffDock convention, see docking.model.so3). The forward SDE dx = g(t) dW then needs
g(t)^2 = dv/dt = 2 v(t) log(sigma_max / sigma_min).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class GeometricSchedule:
    sigma_min: float
    sigma_max: float
    variance_per_sigma_sq: float = 1.0  # v / sigma^2: 1 on R^3 and the torus, 2 for IGSO(3)

    def sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64 if not torch.is_tensor(t) else None)
        return self.sigma_min ** (1 - t) * self.sigma_max ** t

    def g_squared(self, t: torch.Tensor | float) -> torch.Tensor:
        """Squared diffusion coefficient dv/dt of the forward SDE."""
        return 2 * self.variance_per_sigma_sq * self.sigma(t) ** 2 * math.log(self.sigma_max / self.sigma_min)

    @property
    def sigma_data(self) -> float:
        """A nominal data scale (geometric mean of the range) for low-temperature sampling."""
        return math.sqrt(self.sigma_min * self.sigma_max)


@dataclass(frozen=True)
class PoseNoiseSchedule:
    """The DiffDock ranges: translation in Angstrom, rotation and torsions in radians."""

    translation: GeometricSchedule = field(default_factory=lambda: GeometricSchedule(0.1, 19.0))
    rotation: GeometricSchedule = field(default_factory=lambda: GeometricSchedule(0.03, 1.55, 2.0))
    torsion: GeometricSchedule = field(default_factory=lambda: GeometricSchedule(0.0314, math.pi))


@dataclass
class ScheduleOptions:
    """The noise ranges as a config section. Pocket-conditioned models can shrink the translation range:
    the ligand starts within a few Angstrom of a known site, and a narrower range is easier to learn."""

    tr_sigma_min: float = 0.1
    tr_sigma_max: float = 19.0
    rot_sigma_min: float = 0.03
    rot_sigma_max: float = 1.55
    tor_sigma_min: float = 0.0314
    tor_sigma_max: float = math.pi

    def build(self) -> PoseNoiseSchedule:
        return PoseNoiseSchedule(GeometricSchedule(self.tr_sigma_min, self.tr_sigma_max),
                                 GeometricSchedule(self.rot_sigma_min, self.rot_sigma_max, 2.0),
                                 GeometricSchedule(self.tor_sigma_min, self.tor_sigma_max))
