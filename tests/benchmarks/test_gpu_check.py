"""`disco bench gpu` read against the CPU paths it mirrors: without a GPU it says so in one line and writes
nothing; the pieces it times and counts with are run here on the CPU."""

import torch

from benchmarks.gpu_check import run_cuda_tests, timed_dock
from benchmarks.shipped import shipped_complexes
from disco_core.cli import main


def test_without_a_gpu_one_line_exit_0_and_no_record(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu"
    assert main(["bench", "gpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == ["disco bench gpu: no CUDA GPU here (torch.cuda.is_available() is False): nothing run, no "
                       "record written"]
    assert not out.exists()


def test_the_shipped_complexes_it_times():
    found = shipped_complexes()
    assert [c.name for c in found[:2]] == ["1s3v", "1v2s"] and len(found) >= 5
    assert all(c.protein.is_file() and c.ligand.is_file() for c in found)
    assert len(shipped_complexes(3)) == 3


def test_timed_dock_on_the_cpu(tmp_path):
    item = shipped_complexes(1)[0]
    timed = timed_dock(tmp_path / "run", "cpu", True, item.protein, item.ligand, item.ligand, samples=2)
    assert (timed["ok"], timed["failed"], timed["peak_gpu_memory_mib"]) == (1, 0, None)
    assert 0 < timed["median_seconds_per_ligand"] <= timed["wall_seconds"]
    assert (tmp_path / "run" / "1s3v_ligand" / "poses.sdf").is_file()


def test_the_cuda_tests_run_as_a_child_and_are_counted():
    """Here every CUDA test is deselected (pytest exits 5: none ran); on a GPU they run and pass."""
    result = run_cuda_tests()
    assert "failed" not in result["counts"] and "error" not in result["counts"], result["summary"]
    if torch.cuda.is_available():
        assert result["exit_code"] == 0 and result["counts"]["passed"] >= 1
    else:
        assert result["exit_code"] == 5 and result["counts"]["deselected"] >= 1
