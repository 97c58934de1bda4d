import torch

from disco_core.checkpoint import load_checkpoint
from images.train import load_trained_model, train_images

from .conftest import tiny_run_config


def test_training_writes_both_stages_and_an_exported_model(trained_tiny_run):
    run = trained_tiny_run
    for path in ("config.yaml", "diffusion/checkpoint.pt", "diffusion/metrics.csv", "prior/checkpoint.pt",
                 "model.pt"):
        assert (run / path).is_file(), path
    config, state = load_checkpoint(run / "model.pt")
    assert set(state) == {"model", "prior"} and config["class_names"] == ["bars", "discs"]
    trained = load_trained_model(run / "model.pt")
    assert trained.model.cfg.use_latents and trained.prior is not None


def test_a_training_step_changes_the_weights_and_lowers_nothing_to_nan(shapes_folder, tmp_path):
    run = tiny_run_config(shapes_folder, steps=1)
    train_images(run, tmp_path)
    _, state = load_checkpoint(tmp_path / "diffusion" / "checkpoint.pt")
    assert state["step"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    fresh = load_trained_model(tmp_path / "model.pt").model.state_dict()
    # the output layer starts at exactly zero; one AdamW step moves it
    assert fresh["denoiser.net.out.2.weight"].abs().sum() > 0


def test_training_resumes_from_its_checkpoint(shapes_folder, tmp_path):
    train_images(tiny_run_config(shapes_folder, steps=1), tmp_path)
    train_images(tiny_run_config(shapes_folder, steps=2), tmp_path)
    _, state = load_checkpoint(tmp_path / "diffusion" / "checkpoint.pt")
    assert state["step"] == 2
    lines = (tmp_path / "diffusion" / "metrics.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]       # step 1 was not redone


def test_ablation_trains_without_a_prior(shapes_folder, tmp_path):
    train_images(tiny_run_config(shapes_folder, use_latents=False), tmp_path)
    _, state = load_checkpoint(tmp_path / "model.pt")
    assert set(state) == {"model"} and not (tmp_path / "prior").exists()
