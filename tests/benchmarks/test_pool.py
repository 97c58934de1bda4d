"""`disco bench pool`: counts over several runs, checked against hand-counted tables."""

import json

import pandas as pd
import pytest

from disco_core.cli import main
from disco_core.errors import InputError

COLUMNS = ["method", "id", "status", "top1_rmsd", "min_rmsd", "pb_valid", "seconds"]


def write_run(folder, rows):
    folder.mkdir(parents=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "results.csv", index=False)


def test_pooled_counts_and_paired_time_ratio(tmp_path):
    write_run(tmp_path / "seed0", [("disco", "a", "ok", 1.0, 0.5, True, 10.0),
                                   ("disco", "b", "ok", 3.0, 1.5, True, 30.0),
                                   ("vina", "a", "ok", 2.5, 1.0, True, 20.0),
                                   ("vina", "b", "ok", 1.9, 1.9, False, 20.0)])
    write_run(tmp_path / "seed1", [("disco", "a", "failed", None, None, False, 0.0),
                                   ("disco", "b", "ok", 1.5, 1.5, False, 50.0),
                                   ("vina", "a", "ok", 0.5, 0.5, True, 40.0),
                                   ("vina", "b", "ok", 4.0, 3.0, True, 25.0)])
    assert main(["bench", "pool", "--runs", str(tmp_path / "seed0"), str(tmp_path / "seed1"),
                 "--out", str(tmp_path / "pooled")]) == 0
    pooled = json.loads((tmp_path / "pooled" / "pooled.json").read_text())["methods"]
    disco, vina = pooled["disco"], pooled["vina"]
    # by hand: disco top-1 < 2 on (seed0, a) and (seed1, b); best < 2 on three finished; the failure is a miss
    assert (disco["n"], disco["finished"], disco["top1_lt2"], disco["best_lt2"], disco["pb_valid_top1"]) == (4, 3, 2, 3, 2)
    assert (vina["top1_lt2"], vina["best_lt2"], vina["pb_valid_top1"]) == (2, 3, 3)
    assert disco["median_seconds"] == 30.0 and vina["median_seconds"] == 22.5
    # paired on the three pairs both finished: disco 10, 30, 50 vs vina 20, 20, 25
    assert disco["paired_n"] == 3
    assert disco["median_seconds_ratio_to_vina"] == pytest.approx(30.0 / 20.0)
    assert disco["median_of_paired_ratios_to_vina"] == pytest.approx(1.5)
    assert len(pd.read_csv(tmp_path / "pooled" / "results.csv")) == 8
    assert "| disco | 4 | 2 (50.0%) | 3 |" in (tmp_path / "pooled" / "pooled.md").read_text()


def test_a_folder_without_results_is_named(tmp_path):
    from benchmarks.pool import pool_runs

    with pytest.raises(InputError, match="not a finished"):
        pool_runs([tmp_path / "missing"], tmp_path / "out")
