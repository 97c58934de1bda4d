"""Shared test settings: one intra-op thread (the models under test are small; more threads only contend)."""

import os
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


@pytest.fixture
def single_process_group(monkeypatch):
    """The environment torchrun gives one rank of a world of one: the trainer then takes its DDP path (gloo on
    CPU). The group is destroyed afterwards."""
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(29500 + os.getpid() % 1000))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("DISCO_FORCE_DDP", "1")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
