"""Writing generated images: a PNG grid and individual PNGs (atomic writes)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from disco_core.io import atomic_write_bytes


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_grid(images_uint8: torch.Tensor, columns: int | None = None, padding: int = 2,
              scale: int = 1) -> np.ndarray:
    """(N, C, H, W) uint8 -> one (rows*(H+p)+p, cols*(W+p)+p, C) uint8 array, each image scaled `scale` x."""
    n, c, h, w = images_uint8.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    tiles = images_uint8.repeat_interleave(scale, 2).repeat_interleave(scale, 3).permute(0, 2, 3, 1).numpy()
    h, w = h * scale, w * scale
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = tile
    return grid


def save_grid(path: str | Path, images_uint8: torch.Tensor, columns: int | None = None, scale: int = 2) -> None:
    atomic_write_bytes(path, _png_bytes(make_grid(images_uint8, columns, scale=scale)))


def save_images(folder: str | Path, images_uint8: torch.Tensor, prefix: str = "sample") -> list[Path]:
    folder = Path(folder)
    paths = []
    for i, image in enumerate(images_uint8):
        path = folder / f"{prefix}_{i:05d}.png"
        atomic_write_bytes(path, _png_bytes(image.permute(1, 2, 0).numpy()))
        paths.append(path)
    return paths
