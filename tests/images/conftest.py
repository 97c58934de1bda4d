"""Shared fixtures: a tiny model config and a tiny labeled image folder (two classes of drawn shapes),
so that training, sampling and the CLI run end to end in seconds without any downloaded data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from disco_core.trainer import TrainerConfig
from images.disco_model import DiscoImageConfig, PriorConfig
from images.encoder import EncoderConfig
from images.train import ImagesRunConfig
from images.unet import UNetConfig

REPO = Path(__file__).resolve().parents[2]


def tiny_model_config(**overrides) -> DiscoImageConfig:
    values = dict(image_size=16, channels=1, num_classes=2, num_latents=3, codebook_size=4,
                  unet=UNetConfig(model_channels=8, channel_mult=(1, 2), attention_resolutions=(8,),
                                  cross_attention_resolutions=(16, 8), head_channels=8, latent_dim=8),
                  encoder=EncoderConfig(dim=8, depth=1, heads=2), prior=PriorConfig(dim=16, depth=1, heads=2))
    values.update(overrides)
    return DiscoImageConfig(**values)


def randomize_zero_init(module: torch.nn.Module, seed: int = 0) -> None:
    """Zero-initialised output layers make a fresh U-Net output exactly 0; give every parameter a random
    value so that conditioning paths have a visible effect."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2)


@pytest.fixture(scope="session")
def shapes_folder(tmp_path_factory) -> Path:
    """16x16 grey PNGs: class 'discs' (filled circles) and 'bars' (vertical bars), 12 of each."""
    from PIL import Image

    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:16, :16]
    for name in ("discs", "bars"):
        (root / name).mkdir()
        for i in range(12):
            if name == "discs":
                cy, cx, r = rng.uniform(5, 11), rng.uniform(5, 11), rng.uniform(2, 5)
                image = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2)
            else:
                left, width = rng.integers(1, 10), rng.integers(2, 5)
                image = (xx >= left) & (xx < left + width)
            Image.fromarray((image * 255).astype(np.uint8)).save(root / name / f"{i:02d}.png")
    return root


def tiny_run_config(data: Path, use_latents: bool = True, steps: int = 2) -> ImagesRunConfig:
    def trainer() -> TrainerConfig:       # ema_decay 0: the EMA model is the trained model itself
        return TrainerConfig(max_steps=steps, lr=1e-3, ema_decay=0.0, log_every=1, checkpoint_every=1,
                             progress=False, device="cpu")

    trainer, prior_trainer = trainer(), trainer()
    return ImagesRunConfig(data=str(data), batch_size=4, model=tiny_model_config(use_latents=use_latents),
                           trainer=trainer, prior_batch_size=8, prior_trainer=prior_trainer)


@pytest.fixture(scope="session")
def trained_tiny_run(shapes_folder, tmp_path_factory) -> Path:
    from images.train import train_images

    out = tmp_path_factory.mktemp("tiny_run")
    train_images(tiny_run_config(shapes_folder), out)
    return out
