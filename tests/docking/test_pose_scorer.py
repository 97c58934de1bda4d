"""The learned pose scorer (docking.scoring): its features against hand counts and the energy, invariance to moving
the complex, training that lowers the ranking loss on a tiny decoy set, Platt calibration against known
parameters, the stored file, and the ranking by it in the pipeline with its fallback and usage error."""

import logging
import math
import shutil

import numpy as np
import pytest
import torch
from rdkit import Chem

from data_prep.protein import HeavyAtoms, read_heavy_atoms
from disco_core.cli import main
from disco_core.errors import CheckpointError
from docking.geometry.rotations import uniform_rotation_matrices
from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
from docking.scoring.decoys import DecoySettings, complex_decoys
from docking.scoring.pose_features import (ATOM_CLASSES, DISTANCE_EDGES_A, NUM_BINS, NUM_FEATURES, ComplexFeaturizer,
                                           pose_features)
from docking.scoring.pose_scorer import FILE_NAME, PoseScorer
from docking.scoring.scorer_training import (ScorerSettings, complex_groups, fit_calibration, group_losses,
                                             top1_hits, train_scorer)
from tests.data_paths import REPO

DATA = REPO / "tests" / "data" / "complexes"
SMALL = DecoySettings(perturbed=6, random_starts=6, minimise_steps=30)


def _complex(name: str):
    mol = Chem.RemoveHs(Chem.MolFromMolFile(str(DATA / name / f"{name}_ligand.sdf")))
    return mol, read_heavy_atoms(DATA / name / f"{name}_protein.pdb")


def test_intermolecular_terms_add_up_to_the_energy():
    mol, protein = _complex("1bju")
    crystal = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32)
    poses = crystal[None] + torch.randn(4, *crystal.shape, generator=torch.Generator().manual_seed(0)) * 0.3
    energy = InteractionEnergy.for_ligand(mol, receptor_atoms(protein, crystal.mean(0).double(), 30.0))
    terms = energy.intermolecular_terms(poses)
    assert terms.shape == (4, 5)
    assert terms.sum(1).numpy() == pytest.approx(energy.intermolecular(poses).numpy(), abs=1e-3)
    assert bool((terms[:, 2] >= 0).all()) and bool((terms[:, [0, 1, 3, 4]] <= 0).all())   # repulsion +, others -


def test_distance_counts_match_a_hand_count():
    """One ligand carbon (methane) and three receptor atoms at hand-placed distances: each pair lands in the
    bin its distance says, with the class of its element and typing (Asp OD1 an acceptor, a backbone N a donor,
    Leu CD1 a hydrophobic carbon)."""
    mol = Chem.MolFromSmiles("C")
    conformer = Chem.Conformer(1)
    mol.AddConformer(conformer)
    protein = HeavyAtoms(elements=["O", "N", "C"], residue_names=["ASP", "ALA", "LEU"], atom_names=["OD1", "N", "CD1"],
                         pos=np.array([[2.7, 0, 0], [0, 3.7, 0], [0, 0, 7.5]]))
    features = pose_features(mol, np.zeros((1, 1, 3), np.float32), protein)[0]
    counts = torch.expm1(features[: len(ATOM_CLASSES) ** 2 * NUM_BINS]).round().reshape(
        len(ATOM_CLASSES), len(ATOM_CLASSES), NUM_BINS)
    carbon = ATOM_CLASSES.index("C_hydrophobic")
    expected = {("O_acceptor", 1), ("N_donor", 3), ("C_hydrophobic", 7)}     # 2.7 in [2.5, 3), 3.7 in [3.5, 4) ...
    assert DISTANCE_EDGES_A[1] < 2.7 < DISTANCE_EDGES_A[2] and DISTANCE_EDGES_A[3] < 3.7 < DISTANCE_EDGES_A[4]
    found = {(ATOM_CLASSES[b], k) for b, k in zip(*torch.nonzero(counts[carbon], as_tuple=True)) for b, k in
             [(int(b), int(k))]}
    assert found == expected
    assert float(counts.sum()) == 3.0
    assert features.shape == (NUM_FEATURES,)


def test_scores_do_not_change_when_the_complex_is_rotated_and_moved():
    mol, protein = _complex("1bju")
    crystal = mol.GetConformer().GetPositions()
    poses = (crystal[None] + np.random.default_rng(0).normal(0, 0.8, (5, *crystal.shape))).astype(np.float32)
    torch.manual_seed(0)
    scorer = PoseScorer().eval()
    rotation = uniform_rotation_matrices(1, generator=torch.Generator().manual_seed(3))[0].double().numpy()
    shift = np.array([12.0, -7.5, 30.0])
    moved = HeavyAtoms(protein.elements, protein.residue_names, protein.atom_names, protein.pos @ rotation.T + shift)
    before = scorer.logits(mol, poses, protein)
    after = scorer.logits(mol, (poses @ rotation.T + shift).astype(np.float32), moved)
    assert after == pytest.approx(before, abs=1e-4)


@pytest.fixture(scope="module")
def tiny_groups():
    from data_prep.inputs import pdbbind_jobs

    decoys = [complex_decoys(name, DATA / name / f"{name}_protein.pdb", DATA / name / f"{name}_ligand.sdf", SMALL)
              for name in ("1bju", "6g27", "1pxo")]
    groups, failures = complex_groups(decoys, {job.name: job for job in pdbbind_jobs(DATA)})
    assert not failures and len(groups) == 3
    return groups


def test_training_lowers_the_ranking_loss_on_a_tiny_decoy_set(tiny_groups):
    torch.manual_seed(0)
    untrained = PoseScorer(num_features=NUM_FEATURES)
    all_features = torch.cat([g.features for g in tiny_groups])
    untrained.mean.copy_(all_features.mean(0))
    untrained.std.copy_(all_features.std(0).clamp_min(1e-3))
    with torch.no_grad():
        before = float(group_losses(untrained, tiny_groups)[0])
    scorer, history = train_scorer(tiny_groups, ScorerSettings(epochs=30, complexes_per_step=3, held_out_share=0.0))
    with torch.no_grad():
        after = float(group_losses(scorer, tiny_groups)[0])
    assert after < 0.5 * before, (before, after)
    assert top1_hits(scorer, tiny_groups) == 3
    assert len(history) == 30 and scorer.record["poses"] == sum(len(g.rmsd) for g in tiny_groups)


def test_platt_calibration_recovers_known_parameters():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-(0.7 * logits - 1.2)))
    a, b = fit_calibration(logits, labels)
    assert a == pytest.approx(0.7, abs=0.05) and b == pytest.approx(-1.2, abs=0.08)


def test_the_stored_scorer_reads_back_and_bad_files_are_refused(tmp_path):
    torch.manual_seed(1)
    scorer = PoseScorer(hidden=(8,)).eval()
    scorer.calibration = (0.5, -0.25)
    path = scorer.save(tmp_path / FILE_NAME)
    again = PoseScorer.load(path)
    features = torch.randn(3, NUM_FEATURES)
    assert again(features).detach().numpy() == pytest.approx(scorer(features).detach().numpy(), abs=1e-6)
    assert again.calibration == (0.5, -0.25)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a pose scorer"):
        PoseScorer.load(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a pose scorer"):
        PoseScorer.load(tmp_path / "other.pt")


# ---------------------------------------------------------------------------------------- ranking by the scorer

EXAMPLE = REPO / "examples" / "1s3v"


def _model_folder(tmp_path, with_scorer: bool):
    from docking.inference.model_folder import BUNDLED_MODEL

    folder = tmp_path / ("with" if with_scorer else "without")
    shutil.copytree(BUNDLED_MODEL, folder)
    (folder / FILE_NAME).unlink(missing_ok=True)
    if with_scorer:
        torch.manual_seed(2)
        scorer = PoseScorer(hidden=(16,))
        scorer.calibration = (1.0, 0.0)
        scorer.save(folder / FILE_NAME)
    return folder


def _dock(folder, rank_by: str):
    from docking.inference.given_sites import pocket_from_ligand_file
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.physics.guidance import PhysicsGuidance

    options = DockOptions(model=folder, samples=4, steps=6, seed=0, device="cpu", energy="pairwise",
                          physics=PhysicsGuidance(weight=3.0, refine_rounds=0), rank_by=rank_by)
    pipeline = DockingPipeline(options)
    return pipeline.dock(EXAMPLE / "1s3v_protein.pdb", EXAMPLE / "1s3v_ligand.sdf", name="1s3v",
                         pocket=pocket_from_ligand_file(EXAMPLE / "1s3v_ligand.sdf"))


def test_rank_by_scorer_orders_the_poses_by_its_calibrated_confidence(tmp_path):
    folder = _model_folder(tmp_path, with_scorer=True)
    result = _dock(folder, "scorer")
    scorer = PoseScorer.load(folder / FILE_NAME)
    poses = np.stack([m.GetConformer().GetPositions() for m in result.poses]).astype(np.float32)
    again = scorer.probabilities(result.poses[0], poses, read_heavy_atoms(EXAMPLE / "1s3v_protein.pdb"))
    assert result.confidences == pytest.approx(again.tolist(), abs=1e-4)
    assert result.confidences == sorted(result.confidences, reverse=True)
    assert all(math.isfinite(e) for e in result.extras["interaction_energy"])
    # Vina's final-score convention on the intermolecular part: / (1 + 0.0585 Nrot), Nrot = 6 (RDKit counts 6 too)
    from rdkit.Chem import rdMolDescriptors

    assert rdMolDescriptors.CalcNumRotatableBonds(result.poses[0]) == 6
    assert result.extras["vina_form_score"] == pytest.approx(
        [e / (1 + 0.0585 * 6) for e in result.extras["intermolecular_energy"]], abs=2e-4)


def test_a_folder_without_scorer_falls_back_to_the_energy_with_one_warning(tmp_path, caplog):
    folder = _model_folder(tmp_path, with_scorer=False)
    with caplog.at_level(logging.WARNING, logger="docking.inference.pipeline"):
        result = _dock(folder, "scorer")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(folder) in warnings[0] and "no pose scorer" in warnings[0]
    energies = result.extras["interaction_energy"]
    assert energies == sorted(energies)
    # and post-processing (`disco dock`, `disco bench dock --methods disco/scorer-ranked`) keeps that order
    from docking.inference.postprocess import PosePostprocessor, PostprocessOptions

    again = PosePostprocessor(PostprocessOptions(rank_by="scorer")).apply(result, str(EXAMPLE / "1s3v_protein.pdb"))
    assert again.extras["interaction_energy"] == energies


def test_asking_for_the_scorer_of_a_folder_without_one_is_a_usage_error(tmp_path, capsys):
    folder = _model_folder(tmp_path, with_scorer=False)
    with pytest.raises(SystemExit) as usage:
        main(["dock", "--protein", str(EXAMPLE / "1s3v_protein.pdb"), "--ligand", "CCO", "--model", str(folder),
              "--rank-by", "scorer", "--out", str(tmp_path / "out")])
    assert usage.value.code == 2
    assert "has no pose scorer" in capsys.readouterr().err and not (tmp_path / "out").exists()
