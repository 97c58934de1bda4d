"""Image datasets held in memory as uint8 tensors: Fashion-MNIST from the Debian package
`dataset-fashion-mnist` (IDX files, never downloaded at run time) and any folder of images.

Images go to the model in [-1, 1]; `to_model_range` / `to_uint8` convert between the two."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from disco_core.errors import InputError

from .idx import read_idx

FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
INSTALL_HINT = "install it with `sudo apt-get install dataset-fashion-mnist` or pass --data DIR"


@dataclass
class ImageDataset:
    """images: uint8 (N, C, H, W); labels: int64 (N,) or None when the data has no classes."""
    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: tuple[str, ...] = field(default_factory=tuple)
    name: str = "images"

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (clipped)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()


def fashion_mnist_available(root: str | Path = FASHION_MNIST_ROOT) -> bool:
    root = Path(root)
    return all((root / f"{split}-images-idx3-ubyte.gz").is_file() for split in ("train", "t10k"))


def load_fashion_mnist(split: str = "train", root: str | Path = FASHION_MNIST_ROOT) -> ImageDataset:
    """split: "train" (60,000 images) or "test" (10,000)."""
    if split not in ("train", "test"):
        raise InputError(split, "split must be 'train' or 'test'")
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images_path = root / f"{prefix}-images-idx3-ubyte.gz"
    if not images_path.is_file():
        raise InputError(str(root), f"Fashion-MNIST not found ({images_path.name} missing); {INSTALL_HINT}")
    images = read_idx(images_path)
    labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise InputError(str(images_path), f"unexpected shapes {images.shape} / {labels.shape}")
    return ImageDataset(torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64)),
                        FASHION_MNIST_CLASSES, "fashion-mnist")


def _read_image(path: Path, size: int, channels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            side = min(image.size)                      # centre crop to a square, then resize
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(str(path), f"not a readable image ({exc.__class__.__name__})") from None
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def load_image_folder(root: str | Path, size: int = 32, channels: int = 3, split: str = "train",
                      test_fraction: float = 0.1, seed: int = 0) -> ImageDataset:
    """Every image under `root`, centre-cropped and resized to size x size. When `root` has
    subfolders, each subfolder is a class (labels in sorted order); otherwise the data is unlabeled.
    A fixed seeded `test_fraction` of the files forms the "test" split."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "image folder not found")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(str(root), f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    class_names = tuple(sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1}))
    labeled = class_names and all(len(p.relative_to(root).parts) > 1 for p in files)
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed))
    num_test = int(round(len(files) * test_fraction)) if len(files) > 1 else 0
    chosen = order[:num_test] if split == "test" else order[num_test:]
    if len(chosen) == 0:
        raise InputError(str(root), f"the {split} split is empty ({len(files)} images, test fraction {test_fraction})")
    picked = [files[i] for i in sorted(chosen.tolist())]
    images = torch.from_numpy(np.stack([_read_image(p, size, channels) for p in picked]))
    labels = None
    if labeled:
        index = {name: i for i, name in enumerate(class_names)}
        labels = torch.tensor([index[p.relative_to(root).parts[0]] for p in picked], dtype=torch.long)
    return ImageDataset(images, labels, class_names if labeled else (), root.name)


def load_dataset(data: str, split: str = "train", size: int = 32, channels: int = 3) -> ImageDataset:
    """`data` is "fashion-mnist" or a folder of images (size / channels apply to folders only)."""
    if data == "fashion-mnist":
        return load_fashion_mnist(split)
    return load_image_folder(data, size, channels, split)
