"""SO(3) maps and IGSO(3): series vs resummed form, normalisation, sampling (KS), score (finite differences)."""

import math
import time

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.integrate import cumulative_trapezoid

from docking.geometry import rotations
from docking.model import so3


@pytest.fixture(scope="module")
def table() -> so3.IGSO3Table:
    return so3.IGSO3Table(so3.IGSO3Grid(), so3.IGSO3Table.compute(so3.IGSO3Grid()))


def _random_rotvecs(n: int, max_angle: float, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.randn(n, 3, generator=g, dtype=torch.float64)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    return (axis / axis.norm(dim=-1, keepdim=True) * angle).to(dtype)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_axis_angle_round_trip(dtype, tol):
    rotvec = torch.cat([_random_rotvecs(500, math.pi - 1e-3, 0, dtype),
                        _random_rotvecs(20, 1e-7, 1, dtype),  # near the identity
                        torch.zeros(1, 3, dtype=dtype)])
    matrix = rotations.axis_angle_to_matrix(rotvec)
    eye = torch.eye(3, dtype=dtype)
    assert torch.allclose(matrix @ matrix.transpose(-1, -2), eye.expand_as(matrix), atol=tol)
    assert torch.allclose(torch.linalg.det(matrix), torch.ones(len(rotvec), dtype=dtype), atol=tol)
    assert torch.allclose(rotations.matrix_to_axis_angle(matrix), rotvec, atol=50 * tol)
    # exponential map agrees with the matrix exponential of the cross-product matrix
    assert torch.allclose(matrix, torch.linalg.matrix_exp(rotations.skew(rotvec)), atol=tol)


def test_log_map_near_pi_is_accurate():
    axis = _random_rotvecs(200, 1.0, 2)
    rotvec = axis / axis.norm(dim=-1, keepdim=True) * (math.pi - 1e-9)
    back = rotations.axis_angle_to_matrix(rotations.matrix_to_axis_angle(rotations.axis_angle_to_matrix(rotvec)))
    assert torch.allclose(back, rotations.axis_angle_to_matrix(rotvec), atol=1e-8)


def test_uniform_rotations_have_haar_angle_distribution():
    g = torch.Generator().manual_seed(3)
    angle = rotations.matrix_to_axis_angle(rotations.uniform_rotation_matrices(4000, g, torch.float64)).norm(dim=-1).numpy()
    haar_cdf = lambda w: (w - np.sin(w)) / np.pi  # noqa: E731  integral of (1 - cos w) / pi
    assert stats.kstest(angle, haar_cdf).pvalue > 0.01


@pytest.mark.parametrize("sigma", [0.35, 0.5, 0.8])
def test_series_and_resummed_form_agree(sigma):
    omega = np.linspace(0.0, np.pi, 301)
    log_a, score_a = so3._series(omega, np.array([sigma]))
    log_b, score_b = so3._resummed(omega, np.array([sigma]))
    assert np.allclose(log_a, log_b, atol=1e-5)
    assert np.allclose(score_a, score_b, atol=1e-5)


def test_limits_small_sigma_gaussian_and_large_sigma_uniform():
    omega = np.linspace(0.01, 0.1, 10)
    _, score = so3.igso3_log_f_and_score(omega, np.array([0.03]))
    assert np.allclose(score[0], -omega / (2 * 0.03 ** 2), rtol=2e-3)  # rotation vector ~ N(0, 2 sigma^2 I)
    log_f, _ = so3.igso3_log_f_and_score(np.linspace(0, np.pi, 50), np.array([2.5]))
    assert np.abs(log_f).max() < 1e-3


def test_density_is_normalised(table):
    assert torch.allclose(table.normalisation, torch.ones_like(table.normalisation), atol=1e-4)
    for sigma in (0.03, 0.4, 1.55):  # independently of the table's grid
        omega = np.linspace(0, np.pi, 40001)
        assert abs(np.trapezoid(so3.igso3_angle_density(omega, sigma), omega) - 1) < 1e-6


@pytest.mark.parametrize("sigma", [0.03, 0.137, 0.5, 1.0, 1.55])
def test_sampled_angles_follow_the_density(table, sigma):
    """KS test of table sampling against the CDF integrated from the exact density on a fine grid."""
    g = torch.Generator().manual_seed(11)
    samples = table.sample_angle(torch.full((4000,), sigma, dtype=torch.float64), g).numpy()
    omega = np.linspace(0, np.pi, 40001)
    cdf_values = cumulative_trapezoid(so3.igso3_angle_density(omega, sigma), omega, initial=0.0)
    exact_cdf = lambda w: np.interp(w, omega, cdf_values)  # noqa: E731
    assert stats.kstest(samples, exact_cdf).pvalue > 0.01
    table_cdf = table.angle_cdf(torch.from_numpy(omega[::100]), sigma).numpy()
    assert np.abs(table_cdf - cdf_values[::100]).max() < 1e-3


@pytest.mark.parametrize("sigma", [0.03, 0.2, 0.7, 1.5])
def test_angle_score_matches_finite_differences(table, sigma):
    omega = np.linspace(0.2, 3.0, 15) * min(1.0, 4 * sigma)
    h = 1e-6
    log_plus, _ = so3.igso3_log_f_and_score(omega + h, np.array([sigma]))
    log_minus, _ = so3.igso3_log_f_and_score(omega - h, np.array([sigma]))
    _, score = so3.igso3_log_f_and_score(omega, np.array([sigma]))
    finite_diff = (log_plus - log_minus)[0] / (2 * h)
    assert np.allclose(score[0], finite_diff, rtol=1e-5, atol=1e-5)
    looked_up = table.angle_score(torch.from_numpy(omega), sigma).numpy()
    assert np.allclose(looked_up, score[0], rtol=2e-3, atol=2e-3 / sigma)


@pytest.mark.parametrize("sigma", [0.05, 0.6, 1.4])
def test_rotvec_score_is_the_gradient_of_log_density_under_left_perturbation(table, sigma):
    """score_i = d/dh log f(angle(exp(h e_i) exp(r))) at h = 0, by central differences."""
    g = torch.Generator().manual_seed(5)
    rotvec = table.sample_rotvec(torch.full((20,), sigma, dtype=torch.float64), g)
    rotation = rotations.axis_angle_to_matrix(rotvec)
    h = 1e-5
    finite_diff = torch.zeros_like(rotvec)
    for i in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[i] = h
        angles = [rotations.matrix_to_axis_angle(rotations.axis_angle_to_matrix(s * step) @ rotation).norm(dim=-1) for s in (1, -1)]
        log_f = [so3.igso3_log_f_and_score(a.numpy(), np.array([sigma]))[0][0] for a in angles]
        finite_diff[:, i] = torch.from_numpy((log_f[0] - log_f[1]) / (2 * h))
    score = table.score_rotvec(rotvec, sigma)
    error = (score - finite_diff).norm(dim=-1)
    assert (error < 2e-3 * finite_diff.norm(dim=-1) + 1e-4).all()


@pytest.mark.parametrize("sigma", [0.1, 1.0])
def test_expected_score_norm_matches_monte_carlo(table, sigma):
    g = torch.Generator().manual_seed(2)
    rotvec = table.sample_rotvec(torch.full((20000,), sigma, dtype=torch.float64), g)
    monte_carlo = (table.score_rotvec(rotvec, sigma) ** 2).sum(-1).mean()
    assert torch.isclose(monte_carlo, table.expected_score_norm_sq(torch.tensor(sigma, dtype=torch.float64)), rtol=0.05)


def test_sigma_outside_table_is_rejected(table):
    with pytest.raises(ValueError, match="sigma"):
        table.sample_angle(torch.tensor([5.0]))


def test_table_disk_cache_round_trip(tmp_path):
    grid = so3.IGSO3Grid()
    start = time.perf_counter()
    computed = so3.load_igso3_table(grid, cache_dir=tmp_path)
    compute_seconds = time.perf_counter() - start
    path = tmp_path / grid.cache_name()
    assert path.is_file() and not list(tmp_path.glob(".*.tmp"))  # written atomically, no leftovers
    assert compute_seconds < 20  # about a second on one core: the cache is only a convenience
    cached = so3.load_igso3_table(grid, cache_dir=tmp_path)
    assert torch.equal(cached.log_f, computed.log_f) and torch.equal(cached.cdf, computed.cdf)
    path.write_bytes(b"not a torch file")  # a corrupt cache is recomputed and replaced
    assert torch.equal(so3.load_igso3_table(grid, cache_dir=tmp_path).score, computed.score)
    assert torch.load(path, weights_only=True)["score"].shape == (grid.num_sigma, grid.num_omega)


def test_exponential_map_gradient_is_finite_at_the_identity():
    """The pose minimiser starts every rotation at r = 0: the gradient there must be the matrix
    exponential's (finite), not 0 * inf."""
    weights = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for rotvec in (torch.zeros(4, 3, dtype=torch.float64), 1e-6 * weights[:, 0], weights[:, 1]):
        ours = rotvec.clone().requires_grad_(True)
        reference = rotvec.clone().requires_grad_(True)
        (g_ours,) = torch.autograd.grad((rotations.axis_angle_to_matrix(ours) * weights).sum(), ours)
        (g_ref,) = torch.autograd.grad((torch.linalg.matrix_exp(rotations.skew(reference)) * weights).sum(), reference)
        assert torch.isfinite(g_ours).all()
        assert torch.allclose(g_ours, g_ref, atol=1e-8)
