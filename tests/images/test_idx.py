import gzip

import numpy as np
import pytest
import torch

from disco_core.errors import InputError
from images.datasets import fashion_mnist_available, load_fashion_mnist
from images.idx import encode_idx, parse_idx, read_idx, write_idx
from tests.data_paths import FASHION_MNIST_SLICE


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_roundtrip_every_idx_type(tmp_path, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.idx"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_header_layout_matches_the_idx_spec(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    data = encode_idx(labels)
    assert data[:4] == bytes([0, 0, 0x08, 1]) and data[4:8] == (5).to_bytes(4, "big") and data[8:] == labels.tobytes()
    big_endian = encode_idx(np.array([1, 256], dtype=np.int32))
    assert big_endian[8:] == b"\x00\x00\x00\x01\x00\x00\x01\x00"


def test_gzip_files_are_decompressed(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(encode_idx(images)))
    np.testing.assert_array_equal(read_idx(path), images)


def test_bad_files_raise_input_errors_naming_the_file(tmp_path):
    bad_magic = tmp_path / "bad.idx"
    bad_magic.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x07")
    with pytest.raises(InputError, match="bad.idx"):
        read_idx(bad_magic)
    truncated = encode_idx(np.zeros((4, 4), np.uint8))[:-3]
    with pytest.raises(InputError, match="payload"):
        parse_idx(truncated, "short.idx")
    with pytest.raises(InputError, match="not found"):
        read_idx(tmp_path / "missing.idx")


@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_mnist_slice_in_the_package_layout(split):
    """tests/data/fashion-mnist: the first 200 images of each split, gzipped IDX as the package ships them."""
    assert fashion_mnist_available(FASHION_MNIST_SLICE)
    data = load_fashion_mnist(split, root=FASHION_MNIST_SLICE)
    assert data.images.shape == (200, 1, 28, 28) and data.labels.shape == (200,)
    assert sorted(data.labels.unique().tolist()) == list(range(10))
    assert data.images.dtype == torch.uint8 and data.images.max() == 255 and data.num_classes == 10


@pytest.mark.fashion_mnist
def test_fashion_mnist_from_the_debian_package():
    test = load_fashion_mnist("test")
    assert test.images.shape == (10_000, 1, 28, 28) and test.labels.shape == (10_000,)
    assert sorted(test.labels.unique().tolist()) == list(range(10))
    assert int((test.labels == 0).sum()) == 1000          # balanced classes
    assert test.images.dtype.is_floating_point is False and test.images.max() == 255
    for split, data in (("test", test), ("train", load_fashion_mnist("train"))):   # the slice is their head
        head = load_fashion_mnist(split, root=FASHION_MNIST_SLICE)
        assert torch.equal(data.images[:200], head.images) and torch.equal(data.labels[:200], head.labels)


def test_missing_fashion_mnist_tells_how_to_install(tmp_path):
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", root=tmp_path)
