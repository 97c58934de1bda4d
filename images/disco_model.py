"""DisCo-Diff for images: encoder + EDM-preconditioned U-Net trained end to end, and its sampler.

Training (one step):   z = GumbelSoftmax_ST(E(x)),  z <- null with probability p,
                       loss = lambda(sigma) ||D(x + n; sigma, y, z) - x||^2      (EDM weighting)
Sampling:              z ~ prior(. | y),  x ~ ODE with D(.; sigma, y, z) (18 Heun steps by default),
optionally with guidance on the latents  D = D(z) + w (D(z) - D(null)).
With `use_latents: false` the same U-Net without latent conditioning is the ablation (plain EDM)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from disco_core.edm import EDMPrecond, edm_loss, edm_sampler
from disco_core.latents import LatentDropout, classifier_free_guidance, gumbel_softmax_st
from disco_core.prior import TransformerPrior, sample_autoregressive

from .encoder import EncoderConfig, LatentEncoder
from .unet import UNet, UNetConfig


@dataclass
class PriorConfig:
    dim: int = 128
    depth: int = 4
    heads: int = 4


@dataclass
class DiscoImageConfig:
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10               # classes of the data
    class_conditional_prior: bool = True   # the prior draws the latents given the label (false: unconditional)
    class_conditional_unet: bool = False   # also give the label to the U-Net (otherwise only the prior sees it)
    use_latents: bool = True            # false: the no-latent ablation
    num_latents: int = 8                # K
    codebook_size: int = 16             # V
    latent_dropout: float = 0.1
    gumbel_tau: float = 1.0
    sigma_data: float = 0.5
    P_mean: float = -1.2
    P_std: float = 1.2
    unet: UNetConfig = field(default_factory=UNetConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)


class DiscoImageModel(nn.Module):
    """`forward(images, labels)` is the per-example training loss (so DDP sees the whole step)."""

    def __init__(self, cfg: DiscoImageConfig):
        super().__init__()
        self.cfg = cfg
        unet_classes = cfg.num_classes if cfg.class_conditional_unet else 0
        latents = cfg.num_latents if cfg.use_latents else 0
        net = UNet(cfg.unet, cfg.image_size, cfg.channels, unet_classes, latents, cfg.codebook_size)
        self.denoiser = EDMPrecond(net, cfg.sigma_data)
        if cfg.use_latents:
            self.encoder = LatentEncoder(cfg.encoder, cfg.image_size, cfg.channels, cfg.num_latents,
                                         cfg.codebook_size)
            self.latent_dropout = LatentDropout((cfg.num_latents, cfg.codebook_size), cfg.latent_dropout)

    @property
    def uses_labels(self) -> bool:
        return self.cfg.class_conditional_unet and self.cfg.num_classes > 0

    @property
    def conditioning(self) -> str:
        """Where the class label enters: "prior", "unet", "prior+unet" or "none" (a matched comparison pairs
        models that see the label alike)."""
        parts = [name for name, used in (("prior", self.cfg.use_latents and prior_classes(self.cfg) > 0),
                                         ("unet", self.uses_labels)) if used]
        return "+".join(parts) or "none"

    def encode(self, images: torch.Tensor, tau: float | None = None, hard: bool = True,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Clean images in [-1, 1] -> latent codes (B, K, V), straight-through Gumbel-softmax samples."""
        logits = self.encoder(images)
        return gumbel_softmax_st(logits, self.cfg.gumbel_tau if tau is None else tau, hard, generator)

    def null_latents(self, batch: int) -> torch.Tensor:
        return self.latent_dropout.null.expand(batch, -1, -1)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor | None = None,
                z: torch.Tensor | None = None) -> torch.Tensor:
        """D(x; sigma, y, z); y and z are ignored where the model is not conditioned on them."""
        conditioning = {}
        if self.uses_labels:
            conditioning["class_labels"] = labels
        if self.cfg.use_latents:
            conditioning["z"] = z
        return self.denoiser(x, sigma, **conditioning)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        conditioning = {}
        if self.uses_labels:
            conditioning["class_labels"] = labels
        if self.cfg.use_latents:
            conditioning["z"] = self.latent_dropout(self.encode(images))
        return edm_loss(self.denoiser, images, self.cfg.sigma_data, self.cfg.P_mean, self.cfg.P_std,
                        **conditioning)


def prior_classes(cfg: DiscoImageConfig) -> int:
    """The prior's number of classes: 0 makes it unconditional (one learned start token)."""
    return cfg.num_classes if cfg.class_conditional_prior else 0


def build_prior(cfg: DiscoImageConfig) -> TransformerPrior:
    return TransformerPrior(cfg.num_latents, cfg.codebook_size, prior_classes(cfg), cfg.prior.dim,
                            cfg.prior.depth, cfg.prior.heads)


def guided_denoiser(model: DiscoImageModel, labels: torch.Tensor | None, z: torch.Tensor | None,
                    guidance: float = 0.0):
    """D(x, sigma) for the sampler. guidance w > 0 extrapolates away from the null latent:
    D = D(z) + w (D(z) - D(null)) (two network evaluations per call)."""
    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        conditional = model.denoise(x, sigma, labels, z)
        if guidance == 0 or not model.cfg.use_latents:
            return conditional
        unconditional = model.denoise(x, sigma, labels, model.null_latents(x.shape[0]))
        return classifier_free_guidance(conditional, unconditional, guidance)
    return denoise


@dataclass
class SampleResult:
    images: torch.Tensor                  # float [-1, 1], (N, C, H, W)
    labels: torch.Tensor | None           # (N,)
    latents: torch.Tensor | None          # (N, K, V) one-hot codes
    trajectory: torch.Tensor | None = None   # (steps + 1, N, C, H, W) when asked
    sigmas: torch.Tensor | None = None


@torch.no_grad()
def sample_images(model: DiscoImageModel, prior: TransformerPrior | None, labels: torch.Tensor | None,
                  num_steps: int = 18, guidance: float = 0.0, prior_temperature: float = 1.0,
                  generator: torch.Generator | None = None, return_trajectory: bool = False,
                  sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> SampleResult:
    """prior -> latents -> Heun ODE. `labels` (N,) sets the batch (use zeros for unlabeled data).
    `generator` is a CPU generator: all randomness is drawn on the CPU, so a seed gives the same images
    on every device."""
    model.eval()
    device = next(model.parameters()).device
    cfg = model.cfg
    n = labels.shape[0]
    labels = labels.to(device)
    z = None
    if cfg.use_latents:
        if prior is None:
            raise ValueError("a DisCo model needs its prior to sample latents")
        prior.eval()
        z = sample_codes(prior, labels, cfg.num_latents, prior_temperature, generator)
    noise = torch.randn((n, cfg.channels, cfg.image_size, cfg.image_size), generator=generator).to(device)
    denoise = guided_denoiser(model, labels, z, guidance)
    result = edm_sampler(denoise, noise, num_steps, sigma_min, sigma_max, rho, heun=True,
                         return_trajectory=return_trajectory)
    if return_trajectory:
        images, trajectory, sigmas = result
        return SampleResult(images, labels, z, trajectory, sigmas)
    return SampleResult(result, labels, z)


def sample_codes(prior: TransformerPrior, labels: torch.Tensor, num_latents: int, temperature: float,
                 generator: torch.Generator | None) -> torch.Tensor:
    """Autoregressive latents (B, K, V); the randomness comes from `generator` on its own device, so a seeded
    CPU generator gives the same codes for a CPU or an accelerator model (up to the logits' rounding)."""
    condition = labels if prior.num_classes else torch.zeros_like(labels)
    return sample_autoregressive(prior, condition, num_latents, temperature, generator=generator)
