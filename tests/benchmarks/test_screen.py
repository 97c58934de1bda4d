"""`disco bench screen`: libraries of real ligands docked in fresh processes, peak memory reported."""

import json

from benchmarks.screen import run_screen

from tests.data_paths import VENDORED_INDEX
from tests.docking.test_dock_cli import LIGAND, PROTEIN


def test_screen_reports_time_and_memory_per_library_size(tmp_path):
    runs = run_screen(PROTEIN, LIGAND, str(VENDORED_INDEX), [2, 3], tmp_path, samples=2)
    assert [r["ligands"] for r in runs] == [2, 3]
    for run in runs:
        assert run["exit_code"] == 0 and run["ok"] == run["ligands"]
        assert run["seconds_per_ligand"] > 0 and 100 < run["peak_rss_mb"] < 4096
        assert run["ligands_per_hour"] == round(3600 * run["ligands"] / run["seconds"])
    written = json.loads((tmp_path / "screen.json").read_text())
    assert written["runs"] == runs and written["mode"] == "fast"


def test_screen_runs_each_step_count_on_the_same_library(tmp_path):
    """--steps: one dock process per step count, each recorded with the steps its run.json says it used."""
    runs = run_screen(PROTEIN, LIGAND, str(VENDORED_INDEX), [2], tmp_path, samples=2, steps=[4, 2], threads=1)
    assert [(r["ligands"], r["steps"], r["exit_code"], r["ok"]) for r in runs] == [(2, 4, 0, 2), (2, 2, 0, 2)]
    for steps in (4, 2):
        record = json.loads((tmp_path / f"dock_2_steps{steps}" / "run.json").read_text())
        assert f'"steps": {steps}' in json.dumps(record)
    assert json.loads((tmp_path / "screen.json").read_text())["threads"] == 1
