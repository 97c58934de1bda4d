"""Sample quality and ODE straightness of a trained model.

- `fd_classifier`: Frechet distance between generated and test images in the feature space of the
  dataset's own classifier (images/classifier.py). Not FID; comparable only with the same classifier file.
- `fid`: the standard FID, only when the user supplies the Inception-v3 TorchScript feature network of the
  StyleGAN/EDM metrics (`inception-2015-12-05.pt`, called as `net(uint8 NCHW, return_features=True)`).
- `curvature`: mean turning angle (radians per step) of the sampling trajectories, measured on the very
  trajectories that produced the scored images, with its profile over sigma."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from disco_core.curvature import trajectory_turning
from disco_core.errors import InputError

from .classifier import feature_statistics, frechet_distance
from .datasets import to_uint8
from .disco_model import sample_images
from .train import TrainedModel


@dataclass
class GeneratedSet:
    images: torch.Tensor          # uint8 (N, C, H, W)
    labels: torch.Tensor          # (N,)
    turning: torch.Tensor         # (steps - 1, N) turning angles per solver step
    turning_sigmas: torch.Tensor  # (steps - 1,)


def draw_labels(trained: TrainedModel, n: int, label: int | None, generator: torch.Generator) -> torch.Tensor:
    """A fixed label, or labels drawn from the training frequencies (zeros for unlabeled data)."""
    frequencies = trained.label_frequencies
    if label is not None:
        if trained.model.conditioning == "none":
            raise InputError("--label", "this model is unconditional (neither its prior nor its U-Net sees the "
                                        "class label): it cannot generate a chosen class")
        if not 0 <= label < len(frequencies):
            raise InputError("--label", f"{label} is not a class of this model (0..{len(frequencies) - 1})")
        return torch.full((n,), label, dtype=torch.long)
    if not frequencies:
        return torch.zeros(n, dtype=torch.long)
    return torch.multinomial(torch.tensor(frequencies), n, replacement=True, generator=generator)


def generate(trained: TrainedModel, n: int, num_steps: int = 18, guidance: float = 0.0, seed: int = 0,
             label: int | None = None, batch_size: int = 250, prior_temperature: float = 1.0,
             progress=None) -> GeneratedSet:
    """n images in batches; the result depends only on (model, n, steps, guidance, seed, label, batch_size)."""
    generator = torch.Generator().manual_seed(seed)
    labels = draw_labels(trained, n, label, generator)
    images, turning = [], []
    sigmas = None
    for start in range(0, n, batch_size):
        result = sample_images(trained.model, trained.prior, labels[start:start + batch_size], num_steps,
                               guidance, prior_temperature, generator, return_trajectory=True)
        angles, sigmas = trajectory_turning(result.trajectory.cpu(), result.sigmas.cpu())
        images.append(to_uint8(result.images))
        turning.append(angles)
        if progress is not None:
            progress(min(start + batch_size, n))
    return GeneratedSet(torch.cat(images), labels, torch.cat(turning, dim=1), sigmas)


def curvature_summary(generated: GeneratedSet) -> dict:
    profile = generated.turning.double().mean(dim=1)
    return {"mean_turning_angle": float(generated.turning.double().mean()),
            "profile": [{"sigma": float(s), "turning_angle": float(a)}
                        for s, a in zip(generated.turning_sigmas, profile)]}


def fd_in_feature_space(features_generated: np.ndarray, features_reference: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(features_generated), *feature_statistics(features_reference))


def load_inception(path: str | Path, device: str | torch.device = "cpu"):
    """The Inception-v3 TorchScript feature network (the one StyleGAN2-ADA / EDM use for FID)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "Inception weights not found")
    try:
        with warnings.catch_warnings():            # TorchScript is deprecated, but it is the format of that file
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location=device).eval()
    except RuntimeError as exc:
        raise InputError(str(path), f"not a TorchScript Inception network ({str(exc).splitlines()[0][:120]})") from None


@torch.no_grad()
def inception_features(network, images_uint8: torch.Tensor, batch_size: int = 100) -> np.ndarray:
    """Grey images are repeated to RGB; the network resizes to 299 itself."""
    device = next(iter(network.parameters()), torch.empty(0)).device
    chunks = []
    for i in range(0, len(images_uint8), batch_size):
        batch = images_uint8[i:i + batch_size]
        if batch.shape[1] == 1:
            batch = batch.repeat(1, 3, 1, 1)
        chunks.append(network(batch.to(device), return_features=True).double().cpu())
    return torch.cat(chunks).numpy()
