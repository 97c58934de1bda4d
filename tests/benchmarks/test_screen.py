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
    written = json.loads((tmp_path / "screen.json").read_text())
    assert written["runs"] == runs and written["mode"] == "fast"
