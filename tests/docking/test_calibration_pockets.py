"""Confidence calibration (Platt scaling, ECE) and user-given docking sites
(coordinates, residues, a reference ligand); blind sites are in test_pocket_finder.py."""

import numpy as np
import pytest

from data_prep.featurize import prepare_receptor
from data_prep.receptor import load_receptor
from disco_core.errors import InputError
from docking.confidence.calibration import Calibration, expected_calibration_error, fit_platt
from docking.inference.given_sites import parse_residue_list, pocket_from_ligand_file, pocket_from_residues

from tests.docking.test_dock_cli import LIGAND, PROTEIN, crystal_center


def test_platt_scaling_recovers_an_overconfident_classifier(tmp_path):
    rng = np.random.default_rng(0)
    true_logit = rng.normal(-1.0, 2.0, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(float)
    overconfident = 1 / (1 + np.exp(-(3.0 * true_logit + 1.0)))     # raw p = sigmoid(3 z + 1)
    calibration = fit_platt(overconfident, labels, "synthetic")
    assert calibration.a == pytest.approx(1 / 3, abs=0.05) and calibration.b == pytest.approx(-1 / 3, abs=0.1)
    assert calibration.ece_after < 0.03 < calibration.ece_before
    calibration.save(tmp_path / "calibration.json")
    assert Calibration.load(tmp_path / "calibration.json") == calibration
    assert np.isnan(calibration.probabilities([float("nan")])[0])


def test_platt_scaling_without_successes_stays_finite():
    calibration = fit_platt(np.array([0.2, 0.5, 0.9]), np.zeros(3))
    probabilities = calibration.probabilities([0.2, 0.5, 0.9])
    assert all(0 < p < 0.5 for p in probabilities)


def test_expected_calibration_error():
    assert expected_calibration_error(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert expected_calibration_error(np.full(10, 0.9), np.zeros(10)) == pytest.approx(0.9)


def test_user_pockets():
    center = pocket_from_ligand_file(LIGAND).center
    np.testing.assert_allclose(center, crystal_center(), atol=1e-6)
    receptor = prepare_receptor(PROTEIN)
    assert parse_residue_list("A:45, A:99B") == ["A:45", "A:99B"]
    with pytest.raises(InputError, match="CHAIN:NUMBER"):
        parse_residue_list("45,99")
    pocket = pocket_from_residues(load_receptor(PROTEIN), ["A:45", "A:99"])
    ids = receptor["rec_residue_ids"]
    expected = receptor["rec_pos"][[ids.index("A:45"), ids.index("A:99")]].double().mean(0)
    np.testing.assert_allclose(pocket.center, expected.numpy(), atol=1e-5)
    with pytest.raises(InputError, match="Z:999"):
        pocket_from_residues(load_receptor(PROTEIN), ["Z:999"])


def test_calibration_never_reverses_the_ranking():
    """An anti-informative confidence is flattened (a = 0), not turned upside down."""
    raw = np.linspace(0.05, 0.95, 50)
    labels = (raw < 0.5).astype(float)
    calibration = fit_platt(raw, labels)
    assert calibration.a == 0.0
    probabilities = calibration.probabilities(raw)
    assert max(probabilities) - min(probabilities) < 1e-9


def test_reliability_table_and_its_ece_by_hand():
    from docking.confidence.calibration import reliability_table

    probabilities, labels = np.array([0.05, 0.15, 0.12, 0.95]), np.array([0, 1, 0, 1])
    rows = reliability_table(probabilities, labels)
    filled = [(r["low"], r["count"], round(r["mean_predicted"], 4), r["observed"]) for r in rows if r["count"]]
    assert filled == [(0.0, 1, 0.05, 0.0), (0.1, 2, 0.135, 0.5), (0.9, 1, 0.95, 1.0)]
    assert sum(r["count"] for r in rows) == 4 and len(rows) == 10
    # 1/4 |0.05 - 0| + 2/4 |0.135 - 0.5| + 1/4 |0.95 - 1|
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.2075)
