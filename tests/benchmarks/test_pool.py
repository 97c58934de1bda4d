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


def test_paired_mode_counts_by_hand(tmp_path):
    write_run(tmp_path / "seed0", [("disco", "a", "ok", 1.0, 0.5, True, 10.0),
                                   ("disco", "b", "ok", 3.0, 1.5, True, 30.0),
                                   ("disco", "c", "ok", 2.05, 2.05, True, 30.0),
                                   ("vina", "a", "ok", 2.5, 1.0, True, 20.0),
                                   ("vina", "b", "ok", 1.9, 1.9, False, 20.0),
                                   ("vina", "c", "ok", 2.0, 2.0, True, 20.0)])
    write_run(tmp_path / "seed1", [("disco", "a", "failed", None, None, False, 0.0),
                                   ("disco", "b", "ok", 1.5, 1.5, False, 50.0),
                                   ("vina", "a", "ok", 0.5, 0.5, True, 40.0),
                                   ("vina", "b", "ok", 4.0, 3.0, True, 25.0),
                                   ("vina", "d", "ok", 1.0, 1.0, True, 25.0)])
    out = tmp_path / "pooled"
    assert main(["bench", "pool", "--runs", str(tmp_path / "seed0"), str(tmp_path / "seed1"), "--out", str(out),
                 "--paired", "disco", "vina"]) == 0
    paired = json.loads((out / "paired.json").read_text())
    # by hand over the five (run, complex) pairs with both rows ((seed1, d) has Vina's only):
    #   seed0 a: 1.0 vs 2.5 disco lower, only disco < 2    seed0 b: 3.0 vs 1.9 vina lower, only vina < 2
    #   seed0 c: 2.05 vs 2.0, a tie, neither < 2            seed1 a: disco failed (a miss): vina lower, only vina
    #   seed1 b: 1.5 vs 4.0 disco lower, only disco
    assert paired == {"first": "disco", "second": "vina", "tie_a": 0.1, "n": 5, "first_lower": 2,
                      "second_lower": 2, "tie": 1, "only_first_lt2": 2, "only_second_lt2": 2}
    assert json.loads((out / "pooled.json").read_text())["paired"] == paired
    per_pair = pd.read_csv(out / "paired.csv")
    assert list(per_pair["winner"]) == ["disco", "vina", "tie", "vina", "disco"]
    assert "disco lower 2, vina lower 2, tie (within 0.1 A) 1" in (out / "pooled.md").read_text()
    # a tighter tie band gives seed0 c to Vina
    assert main(["bench", "pool", "--runs", str(tmp_path / "seed0"), str(tmp_path / "seed1"), "--out",
                 str(tmp_path / "tight"), "--paired", "disco", "vina", "--tie", "0.01"]) == 0
    assert json.loads((tmp_path / "tight" / "paired.json").read_text())["second_lower"] == 3


def test_paired_mode_names_a_missing_method(tmp_path, capsys):
    write_run(tmp_path / "seed0", [("disco", "a", "ok", 1.0, 0.5, True, 10.0)])
    assert main(["bench", "pool", "--runs", str(tmp_path / "seed0"), "--out", str(tmp_path / "out"),
                 "--paired", "disco", "vina"]) != 0
    assert "vina: no rows of this method" in capsys.readouterr().err
