"""The isotropic Gaussian on SO(3) (IGSO(3)), the rotation part of pose diffusion (the group maps it uses,
rotation vector <-> matrix <-> quaternion and uniform rotations, are docking.geometry.rotations).

IGSO(3)(sigma) is the heat kernel on SO(3). Its density with respect to the uniform (Haar) measure
depends only on the rotation angle omega:

    f(omega; sigma) = sum_l (2l+1) exp(-l(l+1) sigma^2) sin((l+1/2) omega) / sin(omega/2),

so the angle itself has density p(omega) = (1 - cos omega) / pi * f(omega) on [0, pi], and the axis is
uniform. This is the convention of DiffDock, chosen so that sigma = 1.55 is nearly uniform (the
prior): for small sigma the rotation vector is ~ N(0, 2 sigma^2 I), i.e. Brownian motion (generator
Laplacian/2) run for time 2 sigma^2. The score of a noised rotation exp(r) R0, as a rotation vector in
the same (world) frame, is d/domega log f(|r|) * r / |r|.

Numerics: the l-series converges fast for large sigma but, for small sigma, its terms cancel to many
digits in the tail. Its Poisson-resummed (theta-function) form

    f = sqrt(pi) sigma^-3 exp(sigma^2/4) sum_k (-1)^k (omega/2 - pi k) exp(-(omega - 2 pi k)^2 / (4 sigma^2))
        / sin(omega/2),

whose k = 0 term is the familiar small-angle Gaussian, converges fast for small sigma. Each is used
where it is accurate (the tests check they agree where both are). Tables of log f, its omega-derivative
and the angle CDF over a (sigma, omega) grid are computed once (about a second), kept in memory, and
cached as a `.pt` file under ~/.cache/disco (or $DISCO_CACHE_DIR), written atomically.
"""

from __future__ import annotations

import functools
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from disco_core.io import atomic_write_bytes

# ----------------------------------------------------------------------------------------------------
# IGSO(3): exact point evaluations (float64 numpy)

SERIES_SIGMA_MIN = 0.5  # below this the l-series loses precision in the tail; use the resummed form
L_MAX = 2000
_IMAGES = np.arange(-2, 4)  # k in the resummed form; enough for float64 precision up to sigma ~ 1


def _series(omega: np.ndarray, sigma: np.ndarray, l_max: int = L_MAX) -> tuple[np.ndarray, np.ndarray]:
    """(log f, d log f / d omega) from the l-series, for sigma (S,) and omega (W,) -> (S, W).

    With chi_l(omega) = 1 + 2 sum_{m<=l} cos(m omega), the series regroups into a cosine series
    f = W_0 + 2 sum_m W_m cos(m omega) with W_m = sum_{l>=m} (2l+1) exp(-l(l+1) sigma^2); in this form
    neither f nor f' divides by sin(omega/2), so omega = 0 is no special case."""
    ell = np.arange(l_max + 1, dtype=np.float64)
    weights = (2 * ell + 1) * np.exp(-ell * (ell + 1) * sigma[:, None] ** 2)  # (S, L)
    used = int(np.nonzero(weights.max(0) > 0)[0].max()) + 1  # terms beyond are exactly 0.0 in float64
    ell, weights = ell[:used], weights[:, :used]
    tails = np.cumsum(weights[:, ::-1], axis=1)[:, ::-1]  # W_m
    coeff = np.concatenate([tails[:, :1], 2 * tails[:, 1:]], axis=1)
    f = coeff @ np.cos(ell[:, None] * omega[None, :])
    df = -(coeff * ell) @ np.sin(ell[:, None] * omega[None, :])
    return np.log(f), df / f


def _resummed(omega: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log f, d log f / d omega) from the theta-function form, in log space so nothing underflows.

    Factoring exp(-omega^2 / (4 sigma^2)) out of every image k leaves
    h(omega) = sum_k (-1)^k (omega/2 - pi k) exp((pi k omega - pi^2 k^2) / sigma^2) with exponents <= 0."""
    w = np.clip(omega, 1e-9, None)[None, :, None]
    s2 = (sigma ** 2)[:, None, None]
    k = _IMAGES[None, None, :].astype(np.float64)
    sign = (-1.0) ** _IMAGES
    expo = np.exp((np.pi * k * w - np.pi ** 2 * k ** 2) / s2)
    h = (sign * (w / 2 - np.pi * k) * expo).sum(-1)
    dh = (sign * expo * (0.5 + (w / 2 - np.pi * k) * np.pi * k / s2)).sum(-1)
    w, s2 = w[..., 0], s2[..., 0]
    log_f = (0.5 * np.log(np.pi) - 1.5 * np.log(s2) + s2 / 4 - w ** 2 / (4 * s2)
             + np.log(h) - np.log(np.sin(w / 2)))
    score = -w / (2 * s2) + dh / h - 0.5 / np.tan(w / 2)
    score = np.where(omega[None, :] == 0.0, 0.0, score)
    return log_f, score


def igso3_log_f_and_score(omega: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact (to float64) log f(omega; sigma) and d log f / d omega on the grid sigma (S,) x omega (W,)."""
    omega = np.asarray(omega, dtype=np.float64).reshape(-1)
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    log_f = np.empty((sigma.size, omega.size))
    score = np.empty_like(log_f)
    small = sigma < SERIES_SIGMA_MIN
    if small.any():
        log_f[small], score[small] = _resummed(omega, sigma[small])
    if (~small).any():
        log_f[~small], score[~small] = _series(omega, sigma[~small])
    return log_f, score


def igso3_angle_density(omega: np.ndarray, sigma: float) -> np.ndarray:
    """Density of the rotation angle on [0, pi]: (1 - cos omega) / pi * f(omega; sigma)."""
    omega = np.asarray(omega, dtype=np.float64)
    log_f, _ = igso3_log_f_and_score(omega.reshape(-1), np.array([sigma]))
    return ((1 - np.cos(omega.reshape(-1))) / np.pi * np.exp(log_f[0])).reshape(omega.shape)


# ----------------------------------------------------------------------------------------------------
# IGSO(3): tables and torch lookups


@dataclass(frozen=True)
class IGSO3Grid:
    """Where the tables are tabulated: log-spaced sigma, and omega = pi u^2 (dense near 0, where the
    angle lives at small sigma)."""

    sigma_min: float = 1e-3
    sigma_max: float = 2.5
    num_sigma: int = 512
    num_omega: int = 2048
    l_max: int = L_MAX
    version: int = 1

    def cache_name(self) -> str:
        return (f"igso3_v{self.version}_s{self.sigma_min:g}-{self.sigma_max:g}x{self.num_sigma}"
                f"_w{self.num_omega}_l{self.l_max}.pt")


class IGSO3Table:
    """Tabulated IGSO(3): log f, d log f / d omega and angle CDF on a (sigma, omega) grid, plus the
    expected squared score norm per sigma. Lookups interpolate linearly in (log sigma, omega)."""

    def __init__(self, grid: IGSO3Grid, tensors: dict[str, torch.Tensor]):
        self.grid = grid
        self.sigma = tensors["sigma"]
        self.omega = tensors["omega"]
        self.log_f = tensors["log_f"]
        self.score = tensors["score"]
        self.cdf = tensors["cdf"]
        self.score_norm_sq = tensors["score_norm_sq"]
        self.normalisation = tensors["normalisation"]  # integral of the density before rescaling (~1)

    @staticmethod
    def compute(grid: IGSO3Grid = IGSO3Grid()) -> dict[str, torch.Tensor]:
        sigma = np.geomspace(grid.sigma_min, grid.sigma_max, grid.num_sigma)
        omega = np.pi * np.linspace(0.0, 1.0, grid.num_omega) ** 2
        log_f, score = igso3_log_f_and_score(omega, sigma)
        density = (1 - np.cos(omega)) / np.pi * np.exp(log_f)  # angle density p(omega)
        steps = np.diff(omega)
        cdf = np.concatenate([np.zeros((sigma.size, 1)),
                              np.cumsum(0.5 * (density[:, 1:] + density[:, :-1]) * steps, axis=1)], axis=1)
        normalisation = cdf[:, -1].copy()
        cdf /= normalisation[:, None]
        # E |score|^2 = E_omega[(d log f / d omega)^2]  (the score's direction is a unit vector)
        moment = density * score ** 2
        score_norm_sq = (0.5 * (moment[:, 1:] + moment[:, :-1]) * steps).sum(1) / normalisation
        arrays = dict(sigma=sigma, omega=omega, log_f=log_f, score=score, cdf=cdf,
                      score_norm_sq=score_norm_sq, normalisation=normalisation)
        return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}

    # -- interpolation helpers
    def _sigma_position(self, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower grid row and the weight of the upper one, linear in log sigma."""
        sigma = sigma.detach().to(torch.float64).cpu()
        lo_bound, hi_bound = float(self.sigma[0]), float(self.sigma[-1])
        if bool(((sigma < lo_bound * (1 - 1e-9)) | (sigma > hi_bound * (1 + 1e-9))).any()):
            raise ValueError(f"IGSO(3) sigma must lie in [{lo_bound:g}, {hi_bound:g}], "
                             f"got [{float(sigma.min()):g}, {float(sigma.max()):g}]")
        log_grid = self.sigma.log()
        position = (sigma.clamp(lo_bound, hi_bound).log() - log_grid[0]) / (log_grid[1] - log_grid[0])
        row = position.floor().long().clamp(0, self.sigma.numel() - 2)
        return row, position - row

    def _bilinear(self, table: torch.Tensor, omega: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        row, w_sigma = self._sigma_position(sigma)
        w = omega.detach().to(torch.float64).cpu().clamp(0, math.pi)
        col = (torch.searchsorted(self.omega, w, right=True) - 1).clamp(0, self.omega.numel() - 2)
        w_omega = (w - self.omega[col]) / (self.omega[col + 1] - self.omega[col])
        lower = table[row, col] * (1 - w_omega) + table[row, col + 1] * w_omega
        upper = table[row + 1, col] * (1 - w_omega) + table[row + 1, col + 1] * w_omega
        return (lower * (1 - w_sigma) + upper * w_sigma).to(dtype=omega.dtype, device=omega.device)

    # -- public lookups (omega and sigma broadcast to the same shape)
    def log_density(self, omega: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """log f(omega; sigma): log density w.r.t. the uniform measure on SO(3)."""
        omega, sigma = torch.broadcast_tensors(omega, torch.as_tensor(sigma, dtype=omega.dtype, device=omega.device))
        return self._bilinear(self.log_f, omega, sigma)

    def angle_score(self, omega: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """d log f / d omega."""
        omega, sigma = torch.broadcast_tensors(omega, torch.as_tensor(sigma, dtype=omega.dtype, device=omega.device))
        return self._bilinear(self.score, omega, sigma)

    def angle_cdf(self, omega: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        omega, sigma = torch.broadcast_tensors(omega, torch.as_tensor(sigma, dtype=omega.dtype, device=omega.device))
        return self._bilinear(self.cdf, omega, sigma)

    def expected_score_norm_sq(self, sigma: torch.Tensor) -> torch.Tensor:
        """E |score|^2 under IGSO(3)(sigma), the rotation loss normaliser (~ 3 / (2 sigma^2) when small)."""
        sigma = torch.as_tensor(sigma)
        row, w_sigma = self._sigma_position(sigma.reshape(-1))
        values = self.score_norm_sq[row] * (1 - w_sigma) + self.score_norm_sq[row + 1] * w_sigma
        dtype = sigma.dtype if sigma.is_floating_point() else torch.float32
        return values.reshape(sigma.shape).to(dtype=dtype, device=sigma.device)

    def sample_angle(self, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Inverse-CDF sampling of the angle; quantiles of neighbouring sigma rows are blended."""
        sigma = torch.as_tensor(sigma)
        flat = sigma.reshape(-1)
        row, w_sigma = self._sigma_position(flat)
        u = torch.rand(flat.shape, generator=generator, dtype=torch.float64,
                       device=generator.device if generator is not None else "cpu").cpu()
        angle = self._quantile(u, row) * (1 - w_sigma) + self._quantile(u, row + 1) * w_sigma
        dtype = sigma.dtype if sigma.is_floating_point() else torch.float32
        return angle.reshape(sigma.shape).to(dtype=dtype, device=sigma.device)

    def _quantile(self, u: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
        """Inverse of the piecewise-linear CDF of each sample's sigma row."""
        out = torch.empty_like(u)
        for r in torch.unique(row).tolist():
            chosen = row == r
            cdf = self.cdf[r]
            col = (torch.searchsorted(cdf, u[chosen], right=True) - 1).clamp(0, cdf.numel() - 2)
            gap = (cdf[col + 1] - cdf[col]).clamp_min(1e-300)
            frac = ((u[chosen] - cdf[col]) / gap).clamp(0, 1)
            out[chosen] = self.omega[col] + frac * (self.omega[col + 1] - self.omega[col])
        return out

    def sample_rotvec(self, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Rotation vectors (..., 3) distributed as IGSO(3)(sigma): uniform axis, tabulated angle."""
        sigma = torch.as_tensor(sigma)
        angle = self.sample_angle(sigma, generator)
        axis = torch.randn(*sigma.shape, 3, generator=generator, dtype=torch.float64,
                           device=generator.device if generator is not None else "cpu")
        axis = (axis / axis.norm(dim=-1, keepdim=True)).to(dtype=angle.dtype, device=angle.device)
        return axis * angle[..., None]

    def score_rotvec(self, rotvec: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Score of IGSO(3) at exp(rotvec) (relative to the mean), as a world-frame rotation vector."""
        angle = rotvec.norm(dim=-1)
        sigma = torch.as_tensor(sigma, dtype=rotvec.dtype, device=rotvec.device).expand_as(angle)
        slope = self.angle_score(angle, sigma)
        return rotvec * (slope / angle.clamp_min(1e-12))[..., None]


def default_cache_dir() -> Path:
    return Path(os.environ.get("DISCO_CACHE_DIR", Path.home() / ".cache" / "disco"))


def load_igso3_table(grid: IGSO3Grid = IGSO3Grid(), cache_dir: Path | None = None,
                     use_disk_cache: bool = True) -> IGSO3Table:
    """The IGSO(3) table, read from the disk cache when a valid one exists, else computed (and saved).

    A missing, unreadable or stale cache file is simply recomputed; an unwritable cache folder only
    means the next process computes again."""
    path = (cache_dir or default_cache_dir()) / grid.cache_name()
    expected = ("sigma", "omega", "log_f", "score", "cdf", "score_norm_sq", "normalisation")
    if use_disk_cache and path.is_file():
        try:
            tensors = torch.load(path, weights_only=True, map_location="cpu")
            if all(isinstance(tensors.get(key), torch.Tensor) for key in expected) and \
                    tensors["log_f"].shape == (grid.num_sigma, grid.num_omega):
                return IGSO3Table(grid, tensors)
        except Exception:  # corrupt or foreign file: recompute and overwrite below
            pass
    tensors = IGSO3Table.compute(grid)
    if use_disk_cache:
        buffer = io.BytesIO()
        torch.save(tensors, buffer)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError:
            pass
    return IGSO3Table(grid, tensors)


@functools.lru_cache(maxsize=None)
def igso3_table(grid: IGSO3Grid = IGSO3Grid()) -> IGSO3Table:
    """Process-wide IGSO(3) table (computed or read from disk once per process)."""
    return load_igso3_table(grid)
