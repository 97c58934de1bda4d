"""Docking training on real complexes (CPU, tiny networks): one step of each stage changes the weights
(the pointer encoder's too), a run resumes exactly, the run folder reloads for docking, and the
`disco train docking` command works from a processed cache."""

from __future__ import annotations

import csv
import dataclasses
import functools
import shutil
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Batch

from data_prep.featurize import FeaturizeOptions, featurize_pair
from disco_core.checkpoint import load_checkpoint
from disco_core.cli import main
from disco_core.config import load_config
from docking.model.complex_sampling import crop_receptor, dock_complex, docking_graph
from docking.model.loading import load_docking_models
from disco_core.errors import CheckpointError
from docking.training.data import pocket_trainable, training_complex
from docking.training.stages import (DockingTrainConfig, confidence_trainer, prior_trainer, score_trainer,
                                     train_docking)
from tests.data_paths import complex_folder

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "1s3v"
TINY = REPO / "configs" / "docking" / "tiny.yaml"


@functools.lru_cache(maxsize=None)
def example_item() -> dict:
    return featurize_pair(EXAMPLE / "1s3v_protein.pdb", EXAMPLE / "1s3v_ligand.sdf", name="1s3v",
                          options=FeaturizeOptions(match_restarts=1))


def tiny_config(max_steps: int = 1, **validation) -> DockingTrainConfig:
    config = load_config(DockingTrainConfig, TINY)
    config.trainer = dataclasses.replace(config.trainer, max_steps=max_steps, log_every=1, device="cpu")
    config.prior = dataclasses.replace(config.prior, max_steps=max_steps)
    config.confidence = dataclasses.replace(config.confidence, max_steps=max_steps, samples_per_complex=2,
                                            sampling_steps=2)
    config.data = dataclasses.replace(config.data, batch_size=2, pocket_radius=10.0, max_residues=40)
    config.validation = dataclasses.replace(config.validation, **{"every": 0, **validation})
    return config


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module, prefix: str = "") -> bool:
    return any(not torch.equal(before[name], p.detach()) for name, p in module.named_parameters()
               if name.startswith(prefix))


def test_one_step_of_each_stage_changes_the_weights_and_the_run_reloads(tmp_path):
    config, items = tiny_config(), [example_item()]
    trainer = score_trainer(config, items, [], tmp_path)
    before = snapshot(trainer.model)
    trainer.fit()
    assert changed(before, trainer.model, "score.") and changed(before, trainer.model, "encoder.")
    assert changed(before, trainer.model, "encoder.backbone.")   # through the straight-through picks

    trainer = prior_trainer(config, items, [], tmp_path)
    before = snapshot(trainer.model)
    trainer.fit()
    assert changed(before, trainer.model)

    trainer = confidence_trainer(config, items, [], tmp_path)
    before = snapshot(trainer.model)
    trainer.fit()
    assert changed(before, trainer.model)
    poses = torch.load(tmp_path / "confidence" / "poses.pt", weights_only=True)
    assert poses["rmsd"].shape == (2,) and poses["poses"][0].shape == items[0]["lig_pos_crystal"].shape

    for stage in ("score", "prior", "confidence"):
        assert (tmp_path / stage / "config.yaml").is_file() and (tmp_path / stage / "metrics.csv").is_file()
        stored, state = load_checkpoint(tmp_path / stage / "checkpoint.pt")   # weights_only inside
        assert stored["model"]["stage"] == stage and state["step"] == 1
    models = load_docking_models(tmp_path)
    assert models.prior is not None and models.confidence is not None and models.num_latents == 2
    docked = dock_complex(models, items[0], num_samples=3, steps=2, generator=torch.Generator().manual_seed(0),
                          pocket_center=items[0]["pocket_center"])
    assert docked.poses.shape == (3, 27, 3) and docked.picks.shape == (3, 2)
    assert bool(((docked.confidences > 0) & (docked.confidences < 1)).all())
    # ranked: each pose carries the reloaded confidence model's value for that pose alone (recomputed here
    # on the pocket graph the sampler docked in), best first; the three values differ, so it is a real order
    graph = docking_graph(items[0], items[0]["pocket_center"], models.pocket_radius, models.max_residues)
    alone = []
    with torch.no_grad():
        for pose in docked.poses:
            batch = Batch.from_data_list([graph])
            batch["ligand"].pos = pose.float()
            alone.append(torch.sigmoid(models.confidence(batch))[0])
    alone = torch.stack(alone)
    torch.testing.assert_close(docked.confidences, alone, rtol=0, atol=1e-6)
    assert len(set(alone.tolist())) == 3 and alone.argsort(descending=True).tolist() == [0, 1, 2]


def test_no_latent_ablation_has_no_encoder_and_no_prior(tmp_path):
    config = tiny_config()
    config.model = dataclasses.replace(config.model, num_latents=0)
    trainer = score_trainer(config, [example_item()], [], tmp_path)
    assert trainer.model.encoder is None
    trainer.fit()
    assert prior_trainer(config, [example_item()], [], tmp_path) is None
    models = load_docking_models(tmp_path)
    docked = dock_complex(models, example_item(), num_samples=2, steps=2, generator=torch.Generator().manual_seed(0))
    assert docked.picks.shape == (2, 0) and torch.isnan(docked.confidences).all()


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    items = [example_item()]
    straight = score_trainer(tiny_config(max_steps=2), items, [], tmp_path / "straight")
    straight.fit()
    score_trainer(tiny_config(max_steps=1), items, [], tmp_path / "resumed").fit()
    resumed = score_trainer(tiny_config(max_steps=2), items, [], tmp_path / "resumed")
    assert resumed.step == 1
    resumed.fit()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    with open(tmp_path / "resumed" / "score" / "metrics.csv") as handle:
        assert [row["step"] for row in csv.DictReader(handle)] == ["1", "2"]


def test_validation_logs_docking_metrics(tmp_path):
    config = tiny_config(max_steps=2, every=2, complexes=1, samples=2, sampling_steps=2)
    score_trainer(config, [example_item()], [example_item()], tmp_path).fit()
    with open(tmp_path / "score" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["val_step"] for row in rows] == ["1", "2"]
    for key in ("val_success", "val_top1_success", "val_best_success"):
        assert 0.0 <= float(rows[-1][key]) <= 1.0
    assert float(rows[-1]["val_median_rmsd"]) > 0


def test_pocket_crop_keeps_the_residues_near_the_centre():
    item = example_item()
    center = item["lig_pos_crystal"].mean(0)
    cropped = crop_receptor(item, center, radius=12.0)
    assert 0 < cropped["rec_pos"].shape[0] < item["rec_pos"].shape[0]
    assert ((cropped["rec_pos"] - center).norm(dim=-1) <= 12.0).all()
    assert len(cropped["rec_residue_ids"]) == cropped["rec_pos"].shape[0] == cropped["rec_residue_type"].shape[0]
    capped = crop_receptor(item, center, None, max_residues=10)
    assert capped["rec_pos"].shape[0] == 10
    config = tiny_config()
    pocket = training_complex(item, config.data, torch.Generator().manual_seed(0), pocket=True)
    blind = training_complex(item, dataclasses.replace(config.data, max_residues=1000),
                             torch.Generator().manual_seed(0), pocket=False)
    assert pocket.graph["receptor"].num_nodes < blind.graph["receptor"].num_nodes == item["rec_pos"].shape[0]
    torch.testing.assert_close(blind.center, item["rec_pos"].mean(0))


def test_cli_trains_the_score_stage_from_a_cache(tmp_path, capsys):
    pdbbind = tmp_path / "pdbbind"
    shutil.copytree(EXAMPLE, pdbbind / "1s3v")
    cache = tmp_path / "cache"
    assert main(["prep", "--pdbbind", str(pdbbind), "--out", str(cache), "--no-progress"]) == 0
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train.txt").write_text("1s3v\n")
    (splits / "val.txt").write_text("1s3v\n")
    run = tmp_path / "run"
    args = ["train", "docking", "--config", str(TINY), "--data", str(cache), "--out", str(run), "--stage", "score",
            "--split-dir", str(splits), "--device", "cpu", "--max-steps", "1"]
    assert main(args) == 0
    assert (run / "score" / "checkpoint.pt").is_file()
    bad = [str(tmp_path / "nowhere") if arg == str(splits) else arg for arg in args]
    assert main(bad) == 1
    assert "no train.txt" in capsys.readouterr().err


def test_a_batch_with_a_rigid_ligand_trains(tmp_path):
    folder = complex_folder("5eq1")   # 13 heavy atoms, no rotatable bond
    rigid = featurize_pair(folder / "5eq1_protein.pdb", folder / "5eq1_ligand.sdf", name="5eq1",
                           options=FeaturizeOptions(match_restarts=1))
    assert rigid["rot_bonds"].shape[0] == 0
    config = tiny_config()
    trainer = score_trainer(config, [example_item(), rigid], [], tmp_path)
    before = snapshot(trainer.model)
    trainer.fit()
    assert changed(before, trainer.model, "score.")
    models = load_docking_models(tmp_path)
    docked = dock_complex(dataclasses.replace(models, prior=None), rigid, num_samples=2, steps=2,
                          generator=torch.Generator().manual_seed(0), pocket_center=rigid["pocket_center"],
                          picks=torch.tensor([[0, 1], [2, 3]]))
    assert docked.poses.shape == (2, 13, 3) and torch.isfinite(docked.poses).all()


def test_a_ligand_far_from_every_residue_is_left_out_of_pocket_training():
    item = example_item()
    far = dict(item, name="far", lig_pos_matched=item["lig_pos_matched"] + 100.0)
    kept, skipped = pocket_trainable([item, far], tiny_config().data)
    assert kept == [item]
    assert len(skipped) == 1 and skipped[0].startswith("far: no receptor residue within 10 A")
    blind = dataclasses.replace(tiny_config().data, pocket_probability=0.0)
    assert pocket_trainable([item, far], blind) == ([item, far], [])


def test_fine_tuning_starts_each_stage_from_the_given_model(tmp_path):
    config, items = tiny_config(), [example_item()]
    train_docking(config, items, [], tmp_path / "base")
    tuned_config = dataclasses.replace(config, init_from=str(tmp_path / "base"))
    for stage, make in (("score", score_trainer), ("prior", prior_trainer)):
        if stage == "prior":
            score_trainer(tuned_config, items, [], tmp_path / "tuned").fit()
        trainer = make(tuned_config, items, [], tmp_path / "tuned")
        _, state = load_checkpoint(tmp_path / "base" / stage / "checkpoint.pt")
        assert trainer.step == 0
        for name, value in trainer.model.state_dict().items():
            assert torch.equal(value, state["ema"][name]), name
    missing = dataclasses.replace(config, init_from=str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointError, match="no score/checkpoint.pt"):
        score_trainer(missing, items, [], tmp_path / "other")


def test_every_stage_trains_under_distributed_data_parallel(tmp_path, single_process_group):
    """A gloo process group of size 1: DDP refuses a stage whose loss leaves a trainable parameter unused."""
    config, items = tiny_config(max_steps=2), [example_item()]
    for make in (score_trainer, prior_trainer, confidence_trainer):
        trainer = make(config, items, [], tmp_path)
        assert isinstance(trainer.train_model, torch.nn.parallel.DistributedDataParallel)
        trainer.fit()
        assert trainer.step == 2
