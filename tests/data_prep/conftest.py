from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "1s3v"
BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"


@pytest.fixture
def example_protein() -> Path:
    return EXAMPLE / "1s3v_protein.pdb"


@pytest.fixture
def example_ligand() -> Path:
    return EXAMPLE / "1s3v_ligand.sdf"
