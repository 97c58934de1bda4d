"""Ligand pose updates: translate, rotate about the centroid, turn torsions; Kabsch, RMSD, dihedrals.

Positions are (..., N, 3) tensors (any float dtype; leading dims are independent poses of one ligand).
Rotatable bonds follow the processed-complex contract: rot_bonds (R, 2) as (u, v) with v on the moving
side, rot_masks (R, N) True for the atoms that move. Turning bond r by theta rotates its masked atoms
right-handedly about the axis u -> v (the same convention as data_prep.torsions).
"""

from __future__ import annotations

import torch

from docking.geometry.rotations import axis_angle_to_matrix


def centroid(pos: torch.Tensor) -> torch.Tensor:
    """(..., N, 3) -> (..., 3)."""
    return pos.mean(-2)


def translate(pos: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    return pos + delta[..., None, :]


def rotate_about_centroid(pos: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """x -> R (x - c) + c with R a (..., 3, 3) matrix; the centroid c stays put."""
    center = centroid(pos)[..., None, :]
    return (pos - center) @ rotation.transpose(-1, -2) + center


def rotate_by_rotvec(pos: torch.Tensor, rotvec: torch.Tensor) -> torch.Tensor:
    """Rotate about the centroid by a world-frame rotation vector (..., 3)."""
    return rotate_about_centroid(pos, axis_angle_to_matrix(rotvec))


def kabsch(mobile: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Proper rotation R (..., 3, 3) and translation t (..., 3) minimising |mobile R^T + t - target|.

    With H = sum_i (m_i - m_bar)(t_i - t_bar)^T = U S V^T, the optimum is R = V diag(1, 1, d) U^T,
    d = sign det(V U^T) excluding reflections."""
    mobile_center, target_center = centroid(mobile), centroid(target)
    h = (mobile - mobile_center[..., None, :]).transpose(-1, -2) @ (target - target_center[..., None, :])
    u, _, vh = torch.linalg.svd(h)
    v = vh.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    correction = torch.ones(*d.shape, 3, dtype=mobile.dtype, device=mobile.device)
    correction[..., 2] = d
    rotation = (v * correction[..., None, :]) @ u.transpose(-1, -2)
    translation = target_center - (mobile_center[..., None, :] @ rotation.transpose(-1, -2))[..., 0, :]
    return rotation, translation


def kabsch_align(mobile: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`mobile` rigidly moved onto `target` (least-squares)."""
    rotation, translation = kabsch(mobile, target)
    return mobile @ rotation.transpose(-1, -2) + translation[..., None, :]


def rmsd(pos: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Root-mean-square deviation over atoms, in place (no alignment, no symmetry): (..., N, 3) -> (...)."""
    return ((pos - reference) ** 2).sum(-1).mean(-1).sqrt()


def dihedral_angles(pos: torch.Tensor, quads: torch.Tensor) -> torch.Tensor:
    """Signed dihedral a-b-c-d in (-pi, pi] for each row of quads (R, 4): (..., N, 3) -> (..., R)."""
    a, b, c, d = (pos[..., quads[:, i], :] for i in range(4))
    axis = c - b
    axis = axis / axis.norm(dim=-1, keepdim=True)
    ba, cd = a - b, d - c
    v = ba - (ba * axis).sum(-1, keepdim=True) * axis  # components perpendicular to the bond
    w = cd - (cd * axis).sum(-1, keepdim=True) * axis
    return torch.atan2((torch.cross(axis, v, dim=-1) * w).sum(-1), (v * w).sum(-1))


def rotate_masked_about_bond(pos: torch.Tensor, u: int, v: int, mask: torch.Tensor,
                             angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues rotation of the masked atoms by angle (...) about the axis through u and v (u -> v)."""
    origin = pos[..., v, :][..., None, :]
    axis = pos[..., v, :] - pos[..., u, :]
    axis = (axis / axis.norm(dim=-1, keepdim=True))[..., None, :]
    rel = pos - origin
    cos, sin = torch.cos(angle)[..., None, None], torch.sin(angle)[..., None, None]
    rotated = (rel * cos + torch.cross(axis.expand_as(rel), rel, dim=-1) * sin
               + axis * (rel * axis).sum(-1, keepdim=True) * (1 - cos))
    return torch.where(mask[:, None], rotated + origin, pos)


def apply_torsion_changes(pos: torch.Tensor, rot_bonds: torch.Tensor, rot_masks: torch.Tensor,
                          angles: torch.Tensor, realign: bool = True) -> torch.Tensor:
    """Add angles (..., R) to the torsions, one bond after another, then (by default) Kabsch-realign
    onto the input so that the change carries no rigid motion (zero net translation and rotation)."""
    out = pos
    for r in range(rot_bonds.shape[0]):
        u, v = int(rot_bonds[r, 0]), int(rot_bonds[r, 1])
        out = rotate_masked_about_bond(out, u, v, rot_masks[r], angles[..., r])
    return kabsch_align(out, pos) if realign and rot_bonds.shape[0] > 0 else out


def apply_pose_update(pos: torch.Tensor, translation: torch.Tensor, rotvec: torch.Tensor,
                      torsion: torch.Tensor | None, rot_bonds: torch.Tensor, rot_masks: torch.Tensor) -> torch.Tensor:
    """The product-space step: torsions (realigned, so in place), then rotation about the centroid,
    then translation of the centroid."""
    if torsion is not None and rot_bonds.shape[0] > 0:
        pos = apply_torsion_changes(pos, rot_bonds, rot_masks, torsion)
    return translate(rotate_by_rotvec(pos, rotvec), translation)
