import os
import pickle

import pytest
import torch

from disco_core.checkpoint import load_checkpoint, save_checkpoint
from disco_core.errors import CheckpointError
from disco_core.io import atomic_open


def test_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "m.pt", {"hidden": 3, "name": "lin"}, {"model": model.state_dict(), "step": 7})
    config, state = load_checkpoint(tmp_path / "m.pt")
    assert config == {"hidden": 3, "name": "lin"} and state["step"] == 7
    clone = torch.nn.Linear(3, 2)
    clone.load_state_dict(state["model"])
    assert torch.equal(clone.weight, model.weight)


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("complete")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half-writ")
            raise RuntimeError("disk full")
    assert target.read_text() == "complete"
    assert os.listdir(tmp_path) == ["out.txt"]     # no temporary left behind


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "disco-checkpoint-v1", "config": {}, "state": {"x": Payload()}}, path)
    with pytest.raises(CheckpointError, match="pickled"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", pickle.dumps({"a": 1})])
def test_corrupted_or_foreign_files_give_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, {}, {"model": torch.nn.Linear(50, 50).state_dict()})
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not a DisCo checkpoint"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
