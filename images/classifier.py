"""The feature network for `fd_classifier`: a small CNN trained to classify the dataset itself, whose
penultimate activations replace Inception features when no Inception weights are available.

`fd_classifier` is NOT FID: it is the same Frechet distance, computed in this classifier's feature space, so
its values are only comparable between runs that use the same classifier file."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from disco_core.checkpoint import load_checkpoint, save_checkpoint
from disco_core.errors import CheckpointError

from .datasets import to_model_range

CLASSIFIER_KIND = "fd_classifier"


@dataclass
class ClassifierConfig:
    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64, 64)   # one conv per stage, 2x2 max-pool between stages
    feature_dim: int = 128


class FeatureClassifier(nn.Module):
    """conv-BN-ReLU stages with pooling -> global average -> feature layer (the FD space) -> logits."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        width_in = cfg.channels
        for i, width in enumerate(cfg.widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(width_in, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            width_in = width
        self.body = nn.Sequential(*layers)
        self.features_layer = nn.Sequential(nn.Linear(width_in, cfg.feature_dim), nn.ReLU())
        self.head = nn.Linear(cfg.feature_dim, cfg.num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images in [-1, 1], (B, C, H, W) -> (B, feature_dim)."""
        return self.features_layer(self.body(images).mean(dim=(2, 3)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def classifier_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], step: int):
    images, labels = batch
    logits = model(images)
    accuracy = (logits.argmax(1) == labels).float().mean()
    return F.cross_entropy(logits, labels), {"train_accuracy": accuracy}


def save_classifier(path: str | Path, model: FeatureClassifier, info: dict) -> None:
    save_checkpoint(path, {"kind": CLASSIFIER_KIND, "model": asdict(model.cfg), **info},
                    {"model": model.state_dict()})


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> tuple[FeatureClassifier, dict]:
    config, state = load_checkpoint(path, map_location=device)
    if config.get("kind") != CLASSIFIER_KIND:
        raise CheckpointError(f"{path}: not an fd_classifier checkpoint")
    values = dict(config["model"])
    values["widths"] = tuple(values["widths"])
    model = FeatureClassifier(ClassifierConfig(**values)).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), config


@torch.no_grad()
def extract_features(model: nn.Module, images_uint8: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Features of uint8 images (N, C, H, W), float64 (N, D)."""
    device = next(model.parameters()).device
    chunks = [model.features(to_model_range(images_uint8[i:i + batch_size]).to(device)).double().cpu()
              for i in range(0, len(images_uint8), batch_size)]
    return torch.cat(chunks).numpy()


@torch.no_grad()
def accuracy(model: FeatureClassifier, images_uint8: torch.Tensor, labels: torch.Tensor,
             batch_size: int = 500) -> float:
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(images_uint8), batch_size):
        logits = model(to_model_range(images_uint8[i:i + batch_size]).to(device))
        correct += int((logits.argmax(1).cpu() == labels[i:i + batch_size]).sum())
    return correct / len(images_uint8)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)): the distance between two Gaussians."""
    with warnings.catch_warnings():              # few samples make the product singular: handled below
        warnings.simplefilter("ignore")
        covmean = scipy.linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(covmean).all():           # regularise the diagonal and retry
            offset = np.eye(cov1.shape[0]) * 1e-6
            covmean = scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))
