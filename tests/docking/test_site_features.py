"""Site features (docking.scoring.site_features) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from docking.inference.site_search import CandidateSite
from docking.scoring.site_features import SITE_FEATURES, residue_name, site_features


@pytest.mark.parametrize("label, expected", [("A:TYR45", ("A", "TYR")), ("B:ZN301", ("B", "ZN")),
                                             ("_:HEM500A", ("_", "HEM")), ("C:GLY7", ("C", "GLY"))])
def test_residue_name(label, expected):
    assert residue_name(label) == expected


def test_site_features_by_hand():
    protein = np.array([[0.0, 0, 0], [2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0]])     # centroid (0.5, 0.5, 0.5)
    sites = [CandidateSite(1, (0.5, 0.5, 3.5), 40.0, 300.0, ("A:PHE1", "A:LEU2", "B:ASP3", "A:HEM9"), True),
             CandidateSite(2, (0.5, 0.5, 0.5), 10.0, 50.0, ("A:GLY4",), False)]
    f = dict(zip(SITE_FEATURES, site_features(sites, protein)[0]))
    gyration = math.sqrt(np.mean(((protein - protein.mean(0)) ** 2).sum(1)))
    assert f["log_score"] == pytest.approx(math.log(41.0))
    assert f["log_volume"] == pytest.approx(math.log(301.0))
    assert f["score_share"] == 1.0 and f["log_rank"] == 0.0
    assert f["log_residues"] == pytest.approx(math.log(5.0))
    assert f["hydrophobic"] == 0.5 and f["aromatic"] == 0.25 and f["charged"] == 0.25 and f["other"] == 0.25
    assert f["polar"] == 0.0 and f["glycine"] == 0.0 and f["chains"] == 2.0
    assert f["centrality"] == pytest.approx(3.0 / gyration)
    g = dict(zip(SITE_FEATURES, site_features(sites, protein)[1]))
    assert g["score_share"] == 0.25 and g["log_rank"] == pytest.approx(math.log(2)) and g["glycine"] == 1.0
    assert g["centrality"] == 0.0
