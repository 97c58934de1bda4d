"""The FID path with user-supplied Inception weights. The real file (inception-2015-12-05.pt) is not
shipped, so this builds a small TorchScript network with the same calling convention,
`net(uint8 NCHW, return_features=True) -> features`, and checks the plumbing end to end."""

import json

import pytest
import torch
from torch import nn

from disco_core.cli import main
from disco_core.errors import InputError
from images.classifier import ClassifierConfig, FeatureClassifier, save_classifier
from images.evaluate import inception_features, load_inception

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


class PooledColourFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(3, 4)

    def forward(self, images: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert images.dtype == torch.uint8 and images.shape[1] == 3
        return self.project(images.float().mean(dim=(2, 3)) / 255.0)


@pytest.fixture()
def inception_file(tmp_path):
    path = tmp_path / "inception-like.pt"
    torch.jit.save(torch.jit.script(PooledColourFeatures()), str(path))
    return path


def test_grey_images_are_fed_as_rgb_uint8(inception_file):
    network = load_inception(inception_file)
    features = inception_features(network, torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8), batch_size=2)
    assert features.shape == (5, 4)


def test_eval_reports_fid_when_weights_are_given(trained_tiny_run, inception_file, tmp_path):
    classifier = FeatureClassifier(ClassifierConfig(image_size=16, channels=1, num_classes=2, widths=(4,),
                                                    feature_dim=3))
    save_classifier(tmp_path / "c.pt", classifier, {"dataset": "shapes", "test_accuracy": 0.0})
    out = tmp_path / "m.json"
    assert main(["images", "eval", "--model", str(trained_tiny_run), "--n", "6", "--steps", "2", "--classifier",
                 str(tmp_path / "c.pt"), "--inception", str(inception_file), "--out", str(out)]) == 0
    entry = next(iter(json.loads(out.read_text())["models"].values()))
    assert entry["fid"] >= 0 and entry["fd_classifier"] >= 0


def test_not_torchscript_is_an_input_error(tmp_path):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a network")
    with pytest.raises(InputError, match="weights.pt"):
        load_inception(bad)
