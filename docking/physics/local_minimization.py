"""Local minimisation of the interaction energy in pose space (translation, rotation, torsions).

Why: the reverse diffusion ends at a noise level where each step moves a ligand by hundredths of an
Angstrom, so a sampled pose sits near, not at, the bottom of its energy basin; comparing the energies
of poses that are not minimised ranks them by how far they stopped from their minimum. This is the
same degree-of-freedom space Vina's local optimisation works in; bond lengths, angles and rings stay
those of the RDKit conformer. Adam on (translation, rotation vector, torsions) of all poses at once
(their energies are independent, so the summed loss's gradient is each pose's own), keeping the
lowest-energy pose seen for each. The search sees only the receptor atoms that can reach the poses
(`local_energy`), and the energies it returns are re-evaluated with the full energy.
"""

from __future__ import annotations

import torch

from docking.physics.interaction_energy import InteractionEnergy
from docking.geometry.pose import apply_torsion_changes, rotate_about_centroid, translate
from docking.geometry.rotations import axis_angle_to_matrix

DRIFT_MARGIN_A = 6.0          # how far beyond the starting poses a search's receptor sphere reaches


def posed(pos: torch.Tensor, translation: torch.Tensor, rotvec: torch.Tensor, torsion: torch.Tensor,
          rot_bonds: torch.Tensor, rot_masks: torch.Tensor) -> torch.Tensor:
    """pos (B, N, 3) with torsions turned (no realignment: the rigid parameters absorb it), rotated about
    its centroid and translated; differentiable in the three parameter tensors."""
    if rot_bonds.shape[0] > 0:
        pos = apply_torsion_changes(pos, rot_bonds, rot_masks, torsion, realign=False)
    return translate(rotate_about_centroid(pos, axis_angle_to_matrix(rotvec)), translation)


def minimize_poses(energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                   steps: int = 100, lr_translation: float = 0.1, lr_angle: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """(minimised poses (B, N, 3), their energies (B,)); each pose is never worse than where it started."""
    start = pos.detach().float()
    batch = start.shape[0]
    params = {"tr": torch.zeros(batch, 3), "rot": torch.zeros(batch, 3), "tor": torch.zeros(batch, rot_bonds.shape[0])}
    params = {k: v.to(start.device).requires_grad_(True) for k, v in params.items()}
    optimizer = torch.optim.Adam([{"params": [params["tr"]], "lr": lr_translation},
                                  {"params": [params["rot"], params["tor"]], "lr": lr_angle}])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    best_pos, best_energy = start.clone(), energy(start).detach()
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            current = posed(start, params["tr"], params["rot"], params["tor"], rot_bonds, rot_masks)
            values = energy(current)
            better = values.detach() < best_energy
            best_energy = torch.where(better, values.detach(), best_energy)
            best_pos = torch.where(better[:, None, None], current.detach(), best_pos)
            values.sum().backward()
            optimizer.step()
            schedule.step()
    return best_pos.to(pos.dtype), best_energy


def local_energy(energy: InteractionEnergy, pos: torch.Tensor, center: torch.Tensor) -> InteractionEnergy:
    """The energy restricted to the receptor atoms within reach of poses pos (S, N, 3) around `center`: the
    farthest atom plus the energy's cutoff and a drift margin (half the atoms of the guidance's sphere, so
    each evaluation costs half; exact as long as no atom drifts more than the margin outwards)."""
    extent = float((pos - center).norm(dim=-1).max()) if pos.numel() else 0.0
    return energy.near(center, extent + 8.0 + DRIFT_MARGIN_A)


def minimize_near(energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                  center: torch.Tensor, steps: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """`minimize_poses` in the local energy around `center`; the energies returned are the full energy's."""
    minimised, _ = minimize_poses(local_energy(energy, pos, center), pos, rot_bonds, rot_masks, steps)
    return minimised, energy(minimised.float()).detach()
