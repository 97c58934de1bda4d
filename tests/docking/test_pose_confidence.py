"""The pose confidence of guided poses: its features, its fit, its file, and that `disco dock`'s pipeline
and `disco train pose-confidence` featurise the same poses the same way."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from disco_core.cli import main
from disco_core.errors import CheckpointError
from docking.confidence.pose_confidence import FEATURES, PoseConfidence, consensus, fit_logistic, score_shifts

from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "1s3v"


def test_consensus_is_the_share_of_other_poses_that_agree():
    pose = torch.randn(12, 3, generator=torch.Generator().manual_seed(0))
    poses = torch.stack([pose, pose + 0.3, pose + 8.0])
    assert consensus(poses).tolist() == [0.5, 0.5, 0.0]
    assert consensus(poses[:1]).tolist() == [0.0]


def test_the_fit_learns_a_signal_and_its_file_round_trips(tmp_path):
    generator = np.random.default_rng(0)
    x = generator.normal(size=(600, len(FEATURES)))
    labels = generator.random(600) < 1 / (1 + np.exp(-(2.0 * x[:, 1] - 1.0)))   # only energy_gap matters
    model = fit_logistic(x, labels)
    assert np.argmax(np.abs(model.weights)) == 1 and model.weights[1] > 1.0
    held_out = generator.normal(size=(200, len(FEATURES)))
    probabilities = model.probabilities(held_out)
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert np.corrcoef(probabilities, held_out[:, 1])[0, 1] > 0.9

    path = tmp_path / "pose_confidence.json"
    model.save(path)
    assert np.allclose(PoseConfidence.load(path).probabilities(held_out), probabilities)
    assert PoseConfidence.load(tmp_path / "missing.json") is None
    with pytest.raises(ValueError, match="features"):
        model.probabilities(held_out[:, :3])

    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="pose_confidence.json"):
        PoseConfidence.load(path)
    stale = json.loads(json.dumps(model.__dict__))
    stale["features"] = stale["features"][:-1]
    path.write_text(json.dumps(stale))
    with pytest.raises(CheckpointError, match="do not match"):
        PoseConfidence.load(path)


@pytest.fixture(scope="module")
def pipeline():
    from docking.inference.pipeline import DockingPipeline, DockOptions

    return DockingPipeline(DockOptions(device="cpu"))


def test_the_score_model_would_move_a_displaced_crystal_pose_further(pipeline):
    """The score-model features mean something: the further the crystal ligand is pushed off its pose, the
    larger the displacement the bundled model would still apply to it."""
    from docking.model.complex_sampling import docking_input

    mol = Chem.RemoveHs(next(Chem.SDMolSupplier(str(EXAMPLE / "1s3v_ligand.sdf"))))
    crystal = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32)
    item, _ = pipeline.featurize(pipeline.receptor(EXAMPLE / "1s3v_protein.pdb"), "1s3v", mol)
    graph = docking_input(pipeline.models, item, None, crystal.mean(0)).graph
    directions = torch.nn.functional.normalize(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=-1)
    mean_shift = []
    for distance in (0.0, 2.0, 4.0):
        batch = Batch.from_data_list([graph] * len(directions))
        batch["ligand"].pos = torch.cat([crystal + distance * d for d in directions])
        shift_tr, _ = score_shifts(pipeline.models.score, pipeline.models.schedule, batch)
        mean_shift.append(float(shift_tr.mean()))
    assert mean_shift[0] < mean_shift[1] < mean_shift[2]


def test_dock_and_the_fit_featurise_guided_poses_alike(tmp_path, pipeline, caplog):
    """A model folder with a pose confidence gives guided poses its probabilities; `disco train
    pose-confidence` recomputes the same features from the bench records and writes a loadable model."""
    from benchmarks.dock_bench import DockBenchOptions, run_dock_bench
    from docking.confidence.pose_confidence_fit import record_pose_set

    model_dir = tmp_path / "model"
    shutil.copytree(REPO / "docking" / "pretrained" / "default", model_dir)
    generator = np.random.default_rng(0)
    fitted = fit_logistic(generator.normal(size=(50, len(FEATURES))), generator.random(50) < 0.3)
    fitted.weights = [-1.0, -0.5, 0.5, -0.5, -0.5, 0.1, 0.3, -0.3]   # every feature counts
    fitted.save(model_dir / "pose_confidence.json")

    dataset = tmp_path / "dataset"
    shutil.copytree(EXAMPLE, dataset / "1s3v")
    (dataset / "split.txt").write_text("1s3v\n")
    options = DockBenchOptions(dataset=str(dataset), split=str(dataset / "split.txt"), out=str(tmp_path / "run"),
                               methods=("disco",), models=(str(model_dir),), samples=4, steps=6,
                               physics_guidance=2.0, refine_rounds=0, device="cpu")
    run_dock_bench(options, progress=False)
    (folder,) = [path.parent for path in (tmp_path / "run").glob("*/1s3v.json")]
    record = json.loads((folder / "1s3v.json").read_text())
    docked = np.array(record["extras"]["confidences"])
    assert np.all((docked > 0) & (docked < 1)) and np.ptp(docked) > 0   # per pose, not one constant

    from docking.inference.pipeline import DockingPipeline, DockOptions

    recomputed = record_pose_set(DockingPipeline(DockOptions(model=str(model_dir), device="cpu")),
                                 folder / "1s3v.json", dataset)
    assert np.allclose(fitted.probabilities(recomputed.features), docked, atol=2e-3)
    assert recomputed.rmsd.tolist() == record["rmsd"]

    out = tmp_path / "fitted.json"
    # the warning is logged (not printed): caplog, not capsys, which PoseBusters (run by the bench above)
    # would break by pointing RDKit's log at a stream capsys closes after the test
    with caplog.at_level(logging.WARNING):
        assert main(["train", "pose-confidence", "--runs", str(tmp_path / "run"), "--calibrate-runs",
                     str(tmp_path / "run"), "--dataset", str(dataset), "--model", str(model_dir),
                     "--method", "disco:model", "--out", str(out)]) == 0
    assert "1 complexes (1s3v) are in both the train and the calibration runs" in caplog.text
    written = PoseConfidence.load(out)
    assert written.report["train_ids"] == ["1s3v"]
    assert written.report["train"]["poses"] == 4 and written.report["calibrate"]["complexes"] == 1
    assert written.report["train"]["top1_by_energy"] == int(record["rmsd"][0] < 2.0)   # records rank by energy
