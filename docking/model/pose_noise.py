"""Forward noising of ligand poses (training targets) in the product space R^3 x SO(3) x T^R.

Each component diffuses independently with its geometric schedule (docking.model.noise_schedule):
translation as a Gaussian, orientation as IGSO(3) (docking.model.so3), torsions as a wrapped normal
(docking.model.torus). `noise_pose` returns the noised pose, the target scores and the normalisers of a
DiffDock-style denoising score-matching loss (`score_matching_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from docking.geometry.pose import apply_pose_update
from docking.model import torus
from docking.model.noise_schedule import PoseNoiseSchedule
from docking.model.so3 import igso3_table


def standard_normal(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """N(0, 1) drawn in float64 on the generator's device, so a seed gives the same poses in any dtype."""
    device = generator.device if generator is not None else "cpu"
    return torch.randn(shape, generator=generator, dtype=torch.float64, device=device).to(like)




@dataclass
class NoisedPose:
    """A perturbed pose with its perturbation, target scores and loss normalisers (leading dims = poses)."""

    pos: torch.Tensor            # (..., N, 3)
    t: torch.Tensor              # (...)
    sigma_tr: torch.Tensor       # (...)
    sigma_rot: torch.Tensor
    sigma_tor: torch.Tensor
    tr_update: torch.Tensor      # (..., 3) centroid shift
    rot_update: torch.Tensor     # (..., 3) rotation vector about the centroid
    tor_update: torch.Tensor     # (..., R) torsion changes
    tr_score: torch.Tensor       # (..., 3) = -tr_update / sigma_tr^2
    rot_score: torch.Tensor      # (..., 3) IGSO(3) score, world-frame rotation vector
    tor_score: torch.Tensor      # (..., R) wrapped-normal score
    tr_norm_sq: torch.Tensor     # (...) E|tr_score|^2 = 3 / sigma_tr^2
    rot_norm_sq: torch.Tensor    # (...) E|rot_score|^2
    tor_norm_sq: torch.Tensor    # (...) E[tor_score_r^2] (same for every bond of a pose)


def noise_pose(pos: torch.Tensor, t: torch.Tensor | float, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
               schedule: PoseNoiseSchedule = PoseNoiseSchedule(),
               generator: torch.Generator | None = None) -> NoisedPose:
    """Sample the forward perturbation of clean pose(s) pos (..., N, 3) at time(s) t in [0, 1]."""
    batch, num_bonds = pos.shape[:-2], rot_bonds.shape[0]
    t = torch.as_tensor(t, dtype=pos.dtype, device=pos.device).expand(batch)
    sigma_tr, sigma_rot, sigma_tor = (c.sigma(t) for c in (schedule.translation, schedule.rotation, schedule.torsion))
    igso3 = igso3_table()

    tr_update = sigma_tr[..., None] * standard_normal((*batch, 3), generator, pos)
    rot_update = igso3.sample_rotvec(sigma_rot, generator)
    tor_update = sigma_tor[..., None] * standard_normal((*batch, num_bonds), generator, pos)
    noised = apply_pose_update(pos, tr_update, rot_update, tor_update, rot_bonds, rot_masks)

    return NoisedPose(
        pos=noised, t=t, sigma_tr=sigma_tr, sigma_rot=sigma_rot, sigma_tor=sigma_tor,
        tr_update=tr_update, rot_update=rot_update, tor_update=tor_update,
        tr_score=-tr_update / sigma_tr[..., None] ** 2,
        rot_score=igso3.score_rotvec(rot_update, sigma_rot),
        tor_score=torus.score(tor_update, sigma_tor[..., None]),
        tr_norm_sq=3.0 / sigma_tr ** 2,
        rot_norm_sq=igso3.expected_score_norm_sq(sigma_rot),
        tor_norm_sq=torus.expected_score_norm_sq(sigma_tor),
    )


def score_matching_loss(tr_pred: torch.Tensor, rot_pred: torch.Tensor, tor_pred: torch.Tensor | None,
                        target: NoisedPose) -> dict[str, torch.Tensor]:
    """Per-component denoising score-matching losses, each squared error divided by the expected
    squared norm of its target so that every noise level and component weighs about one."""
    losses = {
        "tr": (((tr_pred - target.tr_score) ** 2).sum(-1) / target.tr_norm_sq).mean(),
        "rot": (((rot_pred - target.rot_score) ** 2).sum(-1) / target.rot_norm_sq).mean(),
    }
    if tor_pred is not None and target.tor_score.numel() > 0:
        tor_pred = tor_pred.reshape(target.tor_score.shape)
        losses["tor"] = ((tor_pred - target.tor_score) ** 2 / target.tor_norm_sq[..., None]).mean()
    return losses
