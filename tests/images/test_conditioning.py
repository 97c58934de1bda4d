"""Where the class label enters an image model (`disco images train --unconditional / --class-conditional-unet`),
so that DisCo and the no-latent baseline are compared seeing the label alike: unconditional DisCo against the
unconditional baseline, DisCo's class-conditional prior against a baseline whose U-Net gets the label."""

import json

import pytest
import torch

from disco_core.cli import main
from disco_core.config import save_config
from disco_core.errors import InputError
from images.classifier import ClassifierConfig, FeatureClassifier, save_classifier
from images.disco_model import sample_images
from images.evaluate import draw_labels
from images.train import load_trained_model

from .conftest import randomize_zero_init, tiny_run_config

VARIANTS = {"disco": [], "disco_unconditional": ["--unconditional"], "baseline": ["--no-latents"],
            "baseline_conditional": ["--no-latents", "--class-conditional-unet"]}


@pytest.fixture(scope="module")
def trained_variants(shapes_folder, tmp_path_factory) -> dict:
    """Each variant trained one step from the CLI on the shapes folder."""
    root = tmp_path_factory.mktemp("variants")
    config = root / "tiny.yaml"
    save_config(tiny_run_config(shapes_folder, steps=1), config)
    for name, flags in VARIANTS.items():
        assert main(["images", "train", "--config", str(config), "--out", str(root / name), *flags]) == 0
    return {name: root / name for name in VARIANTS}


def test_the_flags_set_where_the_label_enters(trained_variants):
    models = {name: load_trained_model(path / "model.pt") for name, path in trained_variants.items()}
    assert {name: m.model.conditioning for name, m in models.items()} == {
        "disco": "prior", "disco_unconditional": "none", "baseline": "none", "baseline_conditional": "unet"}
    assert models["disco"].prior.num_classes == 2 and models["disco_unconditional"].prior.num_classes == 0
    assert not models["disco_unconditional"].model.uses_labels


def test_an_unconditional_prior_draws_the_same_latents_for_every_label(trained_variants):
    trained = load_trained_model(trained_variants["disco_unconditional"] / "model.pt")

    def draw(label: int):
        return sample_images(trained.model, trained.prior, torch.full((8,), label), 2,
                             generator=torch.Generator().manual_seed(0))

    zero, one = draw(0), draw(1)
    assert torch.equal(zero.latents, one.latents) and torch.equal(zero.images, one.images)
    with pytest.raises(InputError, match="unconditional"):
        draw_labels(trained, 4, 1, torch.Generator())


def test_the_conditional_baseline_denoises_by_its_label(trained_variants):
    trained = load_trained_model(trained_variants["baseline_conditional"] / "model.pt")
    randomize_zero_init(trained.model.denoiser)       # one training step leaves the label's path near zero

    def draw(label: int):
        return sample_images(trained.model, None, torch.full((4,), label), 3,
                             generator=torch.Generator().manual_seed(0)).images

    assert (draw(0) - draw(1)).abs().max() > 1e-3
    assert torch.equal(draw_labels(trained, 3, 1, torch.Generator()), torch.ones(3, dtype=torch.long))


def test_eval_says_whether_the_compared_models_see_the_label_alike(trained_variants, tmp_path, capsys):
    classifier = FeatureClassifier(ClassifierConfig(image_size=16, channels=1, num_classes=2, widths=(4, 8),
                                                    feature_dim=4))
    save_classifier(tmp_path / "c.pt", classifier, {"dataset": "shapes", "test_accuracy": 0.0})

    def evaluate(*names: str) -> dict:
        out = tmp_path / f"{'-'.join(names)}.json"
        models = [arg for name in names for arg in ("--model", str(trained_variants[name]))]
        assert main(["images", "eval", *models, "--n", "4", "--steps", "2", "--classifier", str(tmp_path / "c.pt"),
                     "--out", str(out)]) == 0
        return json.loads(out.read_text())

    mixed = evaluate("disco", "baseline")
    assert mixed["label_use_matched"] is False and "see the class label differently" in capsys.readouterr().out
    assert mixed["models"][str(trained_variants["disco"])]["label_to"] == "prior"
    assert evaluate("disco_unconditional", "baseline")["label_use_matched"] is True
