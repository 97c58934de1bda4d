import torch

from disco_core.edm import EDMPrecond
from images.disco_model import DiscoImageModel
from images.encoder import EncoderConfig, LatentEncoder

from .conftest import randomize_zero_init, tiny_model_config


def test_encoder_emits_k_latents_over_v_codes():
    encoder = LatentEncoder(EncoderConfig(dim=16, depth=1, heads=2), 28, 1, num_latents=5, codebook_size=7)
    x = torch.randn(4, 1, 28, 28)
    logits = encoder(x)
    assert logits.shape == (4, 5, 7)
    assert not torch.allclose(logits[0], logits[1])              # depends on the image
    assert not torch.allclose(logits[0, 0], logits[0, 1])        # each classification token is its own latent


def test_encode_gives_one_hot_codes_with_straight_through_gradient():
    model = DiscoImageModel(tiny_model_config())
    z = model.encode(torch.randn(3, 1, 16, 16))
    assert z.shape == (3, 3, 4)
    one_hot = torch.nn.functional.one_hot(z.detach().argmax(-1), 4).float()
    torch.testing.assert_close(z.detach(), one_hot)       # hard forward (up to the straight-through rounding)
    assert z.requires_grad


def test_denoising_loss_trains_encoder_end_to_end():
    torch.manual_seed(0)
    model = DiscoImageModel(tiny_model_config(latent_dropout=0.0))
    randomize_zero_init(model.denoiser)
    loss = model(torch.randn(4, 1, 16, 16)).mean()
    loss.backward()
    assert model.encoder.to_logits.weight.grad is not None
    assert model.encoder.to_logits.weight.grad.abs().sum() > 0
    assert model.encoder.stem[0].weight.grad.abs().sum() > 0


def test_latent_dropout_swaps_in_the_learned_null():
    model = DiscoImageModel(tiny_model_config(latent_dropout=1.0)).train()
    with torch.no_grad():
        model.latent_dropout.null.fill_(0.25)
    z = model.latent_dropout(model.encode(torch.randn(2, 1, 16, 16)))
    assert torch.all(z == 0.25)
    assert torch.equal(model.null_latents(3), torch.full((3, 3, 4), 0.25))


def test_ablation_has_no_encoder_and_ignores_latents():
    model = DiscoImageModel(tiny_model_config(use_latents=False))
    assert not hasattr(model, "encoder") and model.denoiser.net.num_latents == 0
    x, sigma = torch.randn(2, 1, 16, 16), torch.ones(2)
    assert torch.equal(model.denoise(x, sigma, z=None), model.denoise(x, sigma, z=torch.ones(2, 3, 4)))


def test_denoiser_is_edm_preconditioned():
    model = DiscoImageModel(tiny_model_config())
    assert isinstance(model.denoiser, EDMPrecond) and model.denoiser.sigma_data == 0.5
    x = torch.randn(2, 1, 16, 16)
    # fresh network outputs 0, so D(x; sigma) = c_skip x
    sigma = torch.tensor([0.5, 2.0])
    expected = x * (0.25 / (sigma ** 2 + 0.25)).view(-1, 1, 1, 1)
    torch.testing.assert_close(model.denoise(x, sigma, z=model.encode(x)), expected)


def test_class_conditional_unet_option():
    model = DiscoImageModel(tiny_model_config(class_conditional_unet=True))
    randomize_zero_init(model.denoiser)
    x, sigma, z = torch.randn(2, 1, 16, 16), torch.ones(2), model.encode(torch.randn(2, 1, 16, 16))
    a = model.denoise(x, sigma, torch.tensor([0, 0]), z)
    b = model.denoise(x, sigma, torch.tensor([1, 1]), z)
    assert not torch.allclose(a, b)
