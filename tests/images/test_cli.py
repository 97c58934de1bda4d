import json
import math

import numpy as np
import pytest
from PIL import Image

from disco_core.cli import main
from images.cli import BUNDLED_MODELS, resolve_model_path
from images.classifier import ClassifierConfig, FeatureClassifier, save_classifier

from .conftest import REPO


def test_generate_writes_grid_and_individual_images(trained_tiny_run, tmp_path):
    grid = tmp_path / "grid.png"
    code = main(["images", "generate", "--model", str(trained_tiny_run), "--n", "5", "--steps", "3", "--seed", "2",
                 "--label", "1", "--cfg", "1.5", "--out", str(grid), "--images-dir", str(tmp_path / "each"),
                 "--scale", "1"])
    assert code == 0
    with Image.open(grid) as image:
        assert image.size == (3 * 18 + 2, 2 * 18 + 2)          # 3 columns x 2 rows of 16 px + 2 px padding
    assert len(list((tmp_path / "each").glob("*.png"))) == 5


def test_eval_writes_metrics_for_a_run(trained_tiny_run, shapes_folder, tmp_path):
    classifier = FeatureClassifier(ClassifierConfig(image_size=16, channels=1, num_classes=2, widths=(4, 8),
                                                    feature_dim=4))
    save_classifier(tmp_path / "c.pt", classifier, {"dataset": "shapes", "test_accuracy": 0.0})
    out = tmp_path / "metrics.json"
    code = main(["images", "eval", "--model", str(trained_tiny_run), "--n", "6", "--steps", "3",
                 "--classifier", str(tmp_path / "c.pt"), "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    entry = report["models"][str(trained_tiny_run)]
    assert report["feature_network"]["name"] == "fd_classifier" and entry["network_evaluations"] == 5
    assert len(entry["curvature"]["profile"]) == 2
    # 6 samples of a 2-step tiny model are not the test set: a finite, positive distance
    assert math.isfinite(entry["fd_classifier"]) and entry["fd_classifier"] > 0
    # the distance it reports, in closed form: features against themselves 0; y = 2 x + 3 has mean 2 mu + 3
    # and covariance 4 C, so ||mu - (2 mu + 3)||^2 + tr(C + 4 C - 2 (4 C^2)^(1/2)) = ||mu + 3||^2 + tr(C)
    from images.evaluate import fd_in_feature_space

    x = np.random.default_rng(0).normal(size=(200, 4)) * [1.0, 2.0, 0.5, 1.0]
    assert fd_in_feature_space(x, x) == pytest.approx(0.0, abs=1e-6)
    closed_form = float(((x.mean(0) + 3.0) ** 2).sum() + np.trace(np.cov(x, rowvar=False)))
    assert fd_in_feature_space(2 * x + 3.0, x) == pytest.approx(closed_form, rel=1e-6)


def test_user_mistakes_are_one_line_errors(tmp_path, capsys):
    assert main(["images", "generate", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "g.png")]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["images", "train", "--config", str(tmp_path / "missing.yaml"), "--out", str(tmp_path)]) == 1


def test_presets_load():
    from disco_core.config import load_config
    from images.train import ClassifierRunConfig, ImagesRunConfig

    run = load_config(ImagesRunConfig, REPO / "configs" / "images" / "fashion_mnist.yaml")
    assert run.model.use_latents and run.model.unet.channel_mult == (1, 2, 2)
    load_config(ClassifierRunConfig, REPO / "configs" / "images" / "fd_classifier.yaml")


@pytest.mark.parametrize("name", ["disco", "baseline"])
def test_bundled_models_generate_out_of_the_box(name, tmp_path):
    assert BUNDLED_MODELS[name].is_file() and resolve_model_path(name) == BUNDLED_MODELS[name]
    assert BUNDLED_MODELS[name].stat().st_size < 20 * 2 ** 20
    grid = tmp_path / "grid.png"
    assert main(["images", "generate", "--model", name, "--n", "4", "--steps", "4", "--out", str(grid)]) == 0
    with Image.open(grid) as image:
        assert image.size == (2 * 58 + 2, 2 * 58 + 2)
