"""Rotations in 3-D: the exponential map and its inverse, quaternions, uniform random rotations.

Pure geometry shared by the diffusion model (docking.model) and the energy search (docking.physics).
"""

from __future__ import annotations

import torch


def skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrix [v]_x, so that [v]_x w = v x w."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([torch.stack([zero, -z, y], -1),
                        torch.stack([z, zero, -x], -1),
                        torch.stack([-y, x, zero], -1)], -2)


def axis_angle_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Exponential map (Rodrigues): R = I + sin(w)/w K + (1 - cos w)/w^2 K^2 with K = [r]_x, w = |r|.
    Differentiable at r = 0 too (the square root is taken of a safe value there, so no 0 * inf reaches
    the gradient), which the pose minimiser's zero start needs."""
    angle_sq = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]
    small = angle_sq < 1e-8
    safe = torch.where(small, torch.ones_like(angle_sq), angle_sq).sqrt()
    sin_term = torch.where(small, 1.0 - angle_sq / 6.0, torch.sin(safe) / safe)
    cos_term = torch.where(small, 0.5 - angle_sq / 24.0, (1.0 - torch.cos(safe)) / (safe * safe))
    k = skew(rotvec)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand(k.shape)
    return eye + sin_term * k + cos_term * (k @ k)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> unit quaternion (..., 4) as (w, x, y, z) with w >= 0.

    Of the four algebraically equivalent formulas, each row uses the one whose divisor is largest, so
    that rotations near pi stay accurate."""
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 q_i^2 for each component (w, x, y, z), from the diagonal
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                           1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    q_abs = four_sq.clamp_min(0).sqrt()  # 2 |q_i|
    wx, wy, wz = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]  # 4 w x, ...
    xy, xz, yz = m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2]  # 4 x y, ...
    candidates = torch.stack([  # row i is 4 q_i * (w, x, y, z)
        torch.stack([four_sq[..., 0], wx, wy, wz], -1),
        torch.stack([wx, four_sq[..., 1], xy, xz], -1),
        torch.stack([wy, xy, four_sq[..., 2], yz], -1),
        torch.stack([wz, xz, yz, four_sq[..., 3]], -1),
    ], -2) / (2.0 * q_abs.clamp_min(1e-12))[..., None]
    best = q_abs.argmax(-1)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    quat = quat / quat.norm(dim=-1, keepdim=True)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def quaternion_to_axis_angle(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternion (w, x, y, z) -> rotation vector with angle in [0, pi]."""
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    xyz = quat[..., 1:]
    sin_half = xyz.norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(sin_half, quat[..., :1])
    small = sin_half < 1e-6
    # angle / sin(angle/2) -> 2 + angle^2/12 as angle -> 0
    safe = torch.where(small, torch.ones_like(sin_half), sin_half)
    scale = torch.where(small, 2.0 + angle * angle / 12.0, angle / safe)
    return xyz * scale


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Logarithm map: rotation matrix -> rotation vector (axis times angle in [0, pi])."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def quaternion_to_matrix(quat: torch.Tensor) -> torch.Tensor:
    w, x, y, z = (quat / quat.norm(dim=-1, keepdim=True)).unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def uniform_rotation_matrices(num: int, generator: torch.Generator | None = None,
                              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Haar-uniform rotations (on the generator's device): a standard normal 4-vector, normalised, is a
    uniform unit quaternion."""
    device = generator.device if generator is not None else "cpu"
    quat = torch.randn(num, 4, generator=generator, dtype=torch.float64, device=device)
    return quaternion_to_matrix(quat).to(dtype)
