"""`disco bench speed`: DisCo vs Vina wall time on the same complex, and our peak memory."""

import json
import shutil
from pathlib import Path

import pytest

from benchmarks.dock_bench import DockBenchOptions, run_speed_bench

from tests.conftest import REPO


def test_speed_report(tmp_path):
    shutil.copytree(REPO / "examples" / "1s3v", tmp_path / "data" / "1s3v")
    (tmp_path / "split.txt").write_text("1s3v\n")
    options = DockBenchOptions(dataset=str(tmp_path / "data"), split=str(tmp_path / "split.txt"),
                               out=str(tmp_path / "run"), samples=2, steps=5, refine_rounds=1, exhaustiveness=1,
                               limit=1, device="cpu")
    report = run_speed_bench(options, progress=False)
    assert report["n"] == 1 and report["failures"] == []
    median = report["median_seconds_per_complex"]
    assert set(median) == {"disco", "disco/fast", "vina"} and all(value > 0 for value in median.values())
    for name in ("disco", "disco/fast"):
        assert report["median_time_ratio_to_vina"][name] == pytest.approx(median[name] / median["vina"], rel=1e-2)
    assert report["settings"]["disco_default"]["steps"] == 5 and report["settings"]["disco_fast"]["steps"] == 8
    assert report["peak_rss_mb_after_disco"] >= report["peak_rss_mb_before_docking"] > 50
    assert json.loads(Path(options.out, "speed.json").read_text())["n"] == 1
