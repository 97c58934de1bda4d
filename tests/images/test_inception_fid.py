"""The FID path with user-supplied Inception weights. The real file (inception-2015-12-05.pt) is not
shipped, so this builds a small TorchScript network with the same calling convention,
`net(uint8 NCHW, return_features=True) -> features`, and checks the plumbing end to end."""

import json
import math

import pytest
import torch
from torch import nn

from disco_core.cli import main
from disco_core.errors import InputError
from images.classifier import ClassifierConfig, FeatureClassifier, save_classifier
from images.evaluate import fd_in_feature_space, inception_features, load_inception

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
    # 6 samples of a 2-step tiny model are not the test set: finite, positive distances
    assert math.isfinite(entry["fid"]) and entry["fid"] > 0
    assert math.isfinite(entry["fd_classifier"]) and entry["fd_classifier"] > 0


def test_fid_through_the_network_in_closed_form(inception_file):
    """Uniform grey images of intensity v: the network's features are (v / 255) w + b, w = the row sums of its
    linear layer, so the distance between two sets is |w|^2 / 255^2 ((mean1 - mean2)^2 + (sd1 - sd2)^2)
    (a Gaussian along w): 0 for a set against itself, |w|^2 (100 / 255)^2 against the set 100 brighter."""
    network = load_inception(inception_file)
    w = network.project.weight.detach().double().sum(dim=1)

    def features(values):
        images = torch.tensor(values, dtype=torch.uint8)[:, None, None, None].expand(-1, 1, 8, 8).contiguous()
        return inception_features(network, images, batch_size=3)

    dim = [10, 50, 90, 130, 20]
    assert fd_in_feature_space(features(dim), features(dim)) == pytest.approx(0.0, abs=1e-6)
    bright = [v + 100 for v in dim]
    expected = float(w @ w) * (100 / 255) ** 2
    assert expected > 0.01
    assert fd_in_feature_space(features(bright), features(dim)) == pytest.approx(expected, rel=1e-3)


def test_not_torchscript_is_an_input_error(tmp_path):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a network")
    with pytest.raises(InputError, match="weights.pt"):
        load_inception(bad)
