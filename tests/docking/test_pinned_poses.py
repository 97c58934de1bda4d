"""The poses `disco dock`'s pipeline gives for fixed seeds are those recorded before docking/ was
restructured (tests/docking/pinned_runs.py): the restructure moved code, it did not change what it computes.

Tolerance: unguided poses to 1e-3 A (float32 arithmetic in the same order); guided poses to 0.05 A and
their energies to 0.05 kcal/mol, since the steep repulsion amplifies float32 rounding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.docking.pinned_runs import CASES, RECORD, run_case

RECORDED = json.loads(RECORD.read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_restructured_pipeline_reproduces_the_recorded_poses(name):
    torch.set_num_threads(1)
    expected, got = RECORDED[name], run_case(name)
    guided = CASES[name][1] > 0
    assert got["sites"] == expected["sites"]
    assert got["samples"] == expected["samples"]
    assert got["picks"] == expected["picks"]
    np.testing.assert_allclose(np.array(got["poses"]), np.array(expected["poses"]), atol=0.05 if guided else 1e-3)
    np.testing.assert_allclose(got["confidences"], expected["confidences"], atol=1e-3)
    np.testing.assert_allclose(got["energies"], expected["energies"], atol=0.05)
