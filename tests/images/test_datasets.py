import pytest
import torch

from disco_core.errors import InputError
from images.datasets import load_image_folder, to_model_range, to_uint8


def test_image_folder_classes_and_splits(shapes_folder):
    train = load_image_folder(shapes_folder, size=16, channels=1, split="train", test_fraction=0.25)
    test = load_image_folder(shapes_folder, size=16, channels=1, split="test", test_fraction=0.25)
    assert train.class_names == ("bars", "discs")
    assert len(train) + len(test) == 24 and len(test) == 6
    assert train.images.shape[1:] == (1, 16, 16) and train.images.dtype == torch.uint8
    assert set(train.labels.tolist()) == {0, 1}
    rgb = load_image_folder(shapes_folder, size=8, channels=3)
    assert rgb.images.shape[1:] == (3, 8, 8)


def test_unreadable_image_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no images"):
        load_image_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="broken.png"):
        load_image_folder(tmp_path)


def test_model_range_roundtrip():
    images = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = to_model_range(images)
    assert x.min() == -1 and x.max() == 1
    assert torch.equal(to_uint8(x), images)
