"""docking.inference.ranking.pose_order, the one function that orders a ligand's poses, against orders worked
out by hand; and the request checked once, where it is built."""

import pytest

from disco_core.errors import InputError
from docking.inference.ranking import pose_order, sampling_rank

NAN = float("nan")


def test_energy_ascending_with_missing_values_last_and_ties_in_place():
    values = {"interaction_energy": [-5.0, NAN, -7.5, -5.0, -9.0]}
    # -9.0 (4), -7.5 (2), -5.0 (0 before 3: tie keeps the current order), NaN (1) last
    assert pose_order("energy", values, [0.1] * 5) == [4, 2, 0, 3, 1]


def test_intermolecular_and_vina_read_their_own_value():
    values = {"interaction_energy": [-1.0, -2.0, -3.0], "intermolecular_energy": [-6.0, -4.0, -5.0],
              "vina_score_kcal_mol": [-7.0, -9.0, -8.0]}
    assert pose_order("intermolecular", values, [0.5] * 3) == [0, 2, 1]
    assert pose_order("vina", values, [0.5] * 3) == [1, 2, 0]


def test_confidence_descending_nan_counts_as_zero():
    # 0.9 (1), 0.4 (3), then 0.0 (0) and NaN (2) tie at zero and keep their order
    assert pose_order("confidence", {}, [0.0, 0.9, NAN, 0.4]) == [1, 3, 0, 2]


def test_scorer_keeps_the_pipelines_order_whatever_the_confidences():
    """The pipeline ranked by the scorer (or, without one, by energy, and the confidences are then the pose
    confidence's): post-processing must not reorder by those confidences, only put valid poses first."""
    values = {"interaction_energy": [-9.0, -8.0, -7.0, -6.0]}
    assert pose_order("scorer", values, [0.1, 0.9, 0.5, 0.7]) == [0, 1, 2, 3]
    assert pose_order("scorer", values, [0.1, 0.9, 0.5, 0.7], valid=[False, True, False, True]) == [1, 3, 0, 2]


def test_valid_poses_go_first_keeping_the_score_order_within_each_group():
    values = {"interaction_energy": [-9.0, -8.0, -7.0, -6.0]}
    assert pose_order("energy", values, [0.5] * 4, valid=[False, True, False, True]) == [1, 3, 0, 2]


def test_ranking_twice_changes_nothing():
    values = {"interaction_energy": [-3.0, -3.0, -4.0, NAN]}
    order = pose_order("energy", values, [0.2, 0.1, 0.3, 0.4])
    reordered = {"interaction_energy": [values["interaction_energy"][i] for i in order]}
    assert pose_order("energy", reordered, [0.0] * 4) == [0, 1, 2, 3]


def test_a_ranking_the_poses_cannot_serve_names_the_ligand():
    with pytest.raises(InputError, match="lig7.*vina_score_kcal_mol"):
        pose_order("vina", {"interaction_energy": [-1.0]}, [0.5], name="lig7")


def test_sampling_rank_for_each_request():
    assert [sampling_rank(r, True) for r in ("energy", "intermolecular", "vina", "confidence")] == \
        ["energy", "intermolecular", "energy", "confidence"]
    assert {sampling_rank(r, False) for r in ("energy", "intermolecular", "vina", "confidence")} == {"confidence"}


@pytest.mark.parametrize("options,flag", [({"rank_by": "vina"}, "--rank-by vina"),
                                          ({"rank_by": "energy", "rescore": "vina"}, "--rank-by energy"),
                                          ({"energy": "voxels"}, "--energy"),
                                          ({"refine_chains": 0}, "--refine-chains"),
                                          ({"random_starts": 5, "refine_rounds": 0}, "--random-starts")])
def test_a_request_is_checked_where_it_is_built(options, flag):
    from dataclasses import replace

    from docking.request.dock_request import DockRequest

    with pytest.raises(InputError) as error:
        DockRequest(protein="p.pdb", ligand="CCO", **options)
    assert flag in str(error.value)
    good = DockRequest(protein="p.pdb", ligand="CCO")
    with pytest.raises(InputError):               # replace builds a new request: checked again
        replace(good, **options)
