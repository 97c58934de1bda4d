"""Shared test settings: one intra-op thread (the models under test are small; more threads only contend)."""

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "complexes").is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA
