import numpy as np
import pytest
import torch

from disco_core.errors import CheckpointError
from images.classifier import (ClassifierConfig, FeatureClassifier, extract_features, frechet_distance,
                               load_classifier, save_classifier)
from images.cli import BUNDLED_CLASSIFIER


def test_frechet_distance_closed_form():
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    c1, c2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 9.0])
    # diagonal covariances: |mu1-mu2|^2 + sum (sqrt a - sqrt b)^2
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(5.0 + 1.0 + 1.0 + 0.0)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)


def test_fd_of_samples_separates_distributions():
    rng = np.random.default_rng(0)
    a, b, shifted = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4)) + 1.0
    stats = lambda f: (f.mean(0), np.cov(f, rowvar=False))  # noqa: E731
    assert frechet_distance(*stats(a), *stats(b)) < 0.05
    assert frechet_distance(*stats(a), *stats(shifted)) == pytest.approx(4.0, rel=0.1)


def test_classifier_save_load_and_features(tmp_path):
    model = FeatureClassifier(ClassifierConfig(image_size=16, channels=1, num_classes=3, widths=(4, 8),
                                               feature_dim=6)).eval()
    images = torch.randint(0, 256, (5, 1, 16, 16), dtype=torch.uint8)
    save_classifier(tmp_path / "c.pt", model, {"dataset": "x", "test_accuracy": 0.5})
    loaded, info = load_classifier(tmp_path / "c.pt")
    assert info["test_accuracy"] == 0.5
    np.testing.assert_allclose(extract_features(loaded, images), extract_features(model, images))
    assert extract_features(model, images).shape == (5, 6)


def test_bundled_fd_classifier_is_a_named_classifier_checkpoint():
    model, info = load_classifier(BUNDLED_CLASSIFIER)
    assert info["kind"] == "fd_classifier" and info["dataset"] == "fashion-mnist"
    assert info["test_accuracy"] > 0.85
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, 128)


def test_a_model_file_is_not_a_classifier(trained_tiny_run):
    with pytest.raises(CheckpointError, match="fd_classifier"):
        load_classifier(trained_tiny_run / "model.pt")
