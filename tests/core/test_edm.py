import math

import torch

from disco_core.edm import EDMPrecond, edm_loss, edm_sampler, edm_sigma_steps


class Zero(torch.nn.Module):
    def forward(self, x, c_noise):
        return torch.zeros_like(x)


def test_preconditioning_identities():
    pre = EDMPrecond(Zero(), sigma_data=0.5)
    sigma = torch.tensor([0.002, 0.1, 0.5, 3.0, 80.0], dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = pre.coefficients(sigma)
    sd = 0.5
    # Unit variance of the network input and of the effective training target (EDM eqs. 114-117).
    assert torch.allclose(c_in ** 2 * (sd ** 2 + sigma ** 2), torch.ones_like(sigma))
    target_var = (1 - c_skip) ** 2 * sd ** 2 + c_skip ** 2 * sigma ** 2
    assert torch.allclose(target_var / c_out ** 2, torch.ones_like(sigma))
    assert torch.allclose(c_noise, sigma.log() / 4)
    # sigma -> 0: the denoiser is the identity.
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(pre(x, torch.full((5,), 1e-8, dtype=torch.float64)), x, atol=1e-6)


def test_sigma_steps_follow_rho_schedule():
    steps = edm_sigma_steps(18, 0.002, 80.0, 7.0)
    assert len(steps) == 19 and steps[-1] == 0
    assert math.isclose(steps[0].item(), 80.0, rel_tol=1e-9) and math.isclose(steps[17].item(), 0.002, rel_tol=1e-9)
    assert torch.all(steps[:-1][1:] < steps[:-1][:-1])


def test_heun_solves_gaussian_probability_flow_exactly():
    """For data N(mu, s^2 I) the ideal denoiser is mu + s^2/(s^2+sigma^2) (x - mu), and the probability-flow ODE
    has the solution x(sigma) = mu + sqrt((s^2 + sigma^2) / (s^2 + sigma_max^2)) (x(sigma_max) - mu)."""
    mu, s, sigma_max, sigma_min = 1.5, 0.7, 80.0, 0.002

    def ideal_denoiser(x, sigma):
        sigma = sigma.view(-1, 1)
        return mu + s ** 2 / (s ** 2 + sigma ** 2) * (x - mu)

    noise = torch.randn(256, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = mu + math.sqrt((s ** 2 + sigma_min ** 2) / (s ** 2 + sigma_max ** 2)) * (noise * sigma_max - mu)

    def error_at_sigma_min(num_steps, heun=True):
        # trajectory[-2] sits at sigma_min (the final step to sigma = 0 is a plain Euler step).
        _, traj, _ = edm_sampler(ideal_denoiser, noise, num_steps, sigma_min, sigma_max, heun=heun,
                                 return_trajectory=True)
        return (traj[-2] - exact).abs().max().item()

    coarse, fine = error_at_sigma_min(25), error_at_sigma_min(100)
    assert fine < 5e-3
    assert coarse / fine > 10            # second order: 4x the steps, ~16x less error
    assert error_at_sigma_min(100) < error_at_sigma_min(100, heun=False)
    samples = edm_sampler(ideal_denoiser, noise, num_steps=100, sigma_min=sigma_min, sigma_max=sigma_max)
    assert abs(samples.mean().item() - mu) < 0.15 and abs(samples.std().item() - s) < 0.1


def test_edm_loss_is_small_for_ideal_denoiser():
    mu, s = 0.0, 0.5

    def ideal(x, sigma):
        sigma = sigma.view(-1, 1)
        return mu + s ** 2 / (s ** 2 + sigma ** 2) * (x - mu)

    def wrong(x, sigma):
        return x * 0 + 3.0

    x = torch.randn(4096, 2, generator=torch.Generator().manual_seed(1)) * s + mu
    good = edm_loss(ideal, x, sigma_data=0.5, generator=torch.Generator().manual_seed(2)).mean()
    bad = edm_loss(wrong, x, sigma_data=0.5, generator=torch.Generator().manual_seed(2)).mean()
    # With sigma_data = s the weighted loss of the Bayes-optimal denoiser is exactly 1 in expectation.
    assert abs(good.item() - 1.0) < 0.1
    assert bad > 5 * good
