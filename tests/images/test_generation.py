import pytest
import torch

from disco_core.errors import InputError
from disco_core.latents import classifier_free_guidance
from images.disco_model import DiscoImageModel, guided_denoiser, sample_images
from images.evaluate import draw_labels, generate
from images.train import load_trained_model

from .conftest import randomize_zero_init, tiny_model_config


@pytest.fixture(scope="module")
def trained(trained_tiny_run):
    return load_trained_model(trained_tiny_run / "model.pt")


def test_same_seed_same_images_other_seed_other_images(trained):
    a = generate(trained, 6, num_steps=4, seed=3, batch_size=4)
    b = generate(trained, 6, num_steps=4, seed=3, batch_size=4)
    c = generate(trained, 6, num_steps=4, seed=4, batch_size=4)
    assert a.images.shape == (6, 1, 16, 16) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert a.turning.shape == (3, 6) and torch.isfinite(a.turning).all()


def test_label_reaches_the_prior(trained):
    labels = torch.tensor([0] * 64)
    g0, g1 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    z0 = sample_images(trained.model, trained.prior, labels, 2, generator=g0).latents
    z1 = sample_images(trained.model, trained.prior, labels + 1, 2, generator=g1).latents
    assert z0.shape == (64, 3, 4)
    assert not torch.equal(z0, z1)            # same randomness, different class -> different latents
    assert torch.equal(draw_labels(trained, 5, 1, torch.Generator()), torch.ones(5, dtype=torch.long))
    with pytest.raises(InputError, match="not a class"):
        draw_labels(trained, 5, 7, torch.Generator())


def test_guidance_extrapolates_away_from_the_null_latent():
    torch.manual_seed(0)
    model = DiscoImageModel(tiny_model_config()).eval()
    randomize_zero_init(model)
    x, sigma = torch.randn(2, 1, 16, 16), torch.full((2,), 1.5)
    z = model.encode(torch.randn(2, 1, 16, 16))
    conditional = model.denoise(x, sigma, None, z)
    unconditional = model.denoise(x, sigma, None, model.null_latents(2))
    assert not torch.allclose(conditional, unconditional)
    torch.testing.assert_close(guided_denoiser(model, None, z, 0.0)(x, sigma), conditional)
    guided = guided_denoiser(model, None, z, 2.0)(x, sigma)
    torch.testing.assert_close(guided, conditional + 2.0 * (conditional - unconditional))
    torch.testing.assert_close(guided, classifier_free_guidance(conditional, unconditional, 2.0))


def test_guided_sampling_differs_and_is_deterministic(trained):
    labels = torch.tensor([0, 1, 0, 1])

    def run(guidance):
        return sample_images(trained.model, trained.prior, labels, 3, guidance,
                             generator=torch.Generator().manual_seed(1)).images

    plain, guided, again = run(0.0), run(3.0), run(3.0)
    assert torch.equal(guided, again) and (plain - guided).abs().max() > 1e-4


def test_unconditional_ablation_refuses_a_label(shapes_folder, tmp_path):
    from images.train import train_images

    from .conftest import tiny_run_config

    train_images(tiny_run_config(shapes_folder, use_latents=False, steps=1), tmp_path)
    baseline = load_trained_model(tmp_path / "model.pt")
    with pytest.raises(InputError, match="unconditional"):
        generate(baseline, 2, num_steps=2, label=0)
    assert generate(baseline, 2, num_steps=2).images.shape == (2, 1, 16, 16)
