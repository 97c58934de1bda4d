"""benchmarks/studies/fast_steps_val: the summary's bookkeeping on hand-made run tables (counted by hand), the rule
on hand-made numbers, and the parts' commands running exactly `--fast` at N steps."""

import csv
import dataclasses
import json
import math

import pytest

from benchmarks.studies import fast_steps_val as study

INF = math.inf
COLUMNS = ["method", "id", "status", "top1_rmsd", "top5_min_rmsd", "min_rmsd", "top1_centroid_distance",
           "top1_score", "score_kind", "n_poses", "pb_valid", "pb_failed", "seconds", "top1_interaction_recovery",
           "top1_hbonds_recovered", "error"]   # benchmarks.dock_report's results.csv, as `disco bench dock` writes it


def _write_part(records, name, seed, rows):
    """A finished part's results.csv: rows of (id, status, top1, top5, best, pb_valid, seconds)."""
    method = study.MODELS[study.parse_setting(name)[0]]
    folder = study.record_folder(records, name, seed)
    folder.mkdir(parents=True)
    with open(folder / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for complex_id, status, top1, top5, best, valid, seconds in rows:
            ok = status == "ok"
            writer.writerow({"method": method, "id": complex_id, "status": status,
                             "top1_rmsd": top1 if ok else "", "top5_min_rmsd": top5 if ok else "",
                             "min_rmsd": best if ok else "", "top1_centroid_distance": "", "top1_score": "",
                             "score_kind": "interaction_energy", "n_poses": 10 if ok else "",
                             "pb_valid": str(valid) if ok else "", "pb_failed": "", "seconds": seconds,
                             "top1_interaction_recovery": "", "top1_hbonds_recovered": "",
                             "error": "" if ok else "InputError: bad ligand"})


# three complexes a, b, c; per part (id, status, top-1, best of 5, best of 10, PoseBusters-valid rank 1, seconds)
STEPS20_SEED0 = [("a", "ok", 1.0, 1.0, 0.5, True, 10), ("b", "ok", 3.0, 2.5, 1.5, True, 12),
                 ("c", "failed", None, None, None, False, 1)]
STEPS20_SEED1 = [("a", "ok", 2.5, 2.5, 2.1, False, 8), ("b", "ok", 1.5, 1.5, 1.5, True, 9),
                 ("c", "ok", 4.0, 1.9, 1.9, True, 20)]
PARTS = {("disco_steps20", 0): STEPS20_SEED0, ("disco_steps20", 1): STEPS20_SEED1,
         ("disco_steps12", 0): STEPS20_SEED0, ("disco_steps12", 1): STEPS20_SEED1,
         ("disco_steps8", 0): STEPS20_SEED0,
         ("disco_steps8", 1): [("a", "ok", 2.5, 2.5, 2.1, False, 5), ("b", "ok", 1.5, 1.5, 1.5, True, 6),
                               ("c", "ok", 3.0, 3.0, 3.0, True, 7)],
         ("disco_steps4", 0): [("a", "ok", 3.0, 3.0, 3.0, True, 4), ("b", "ok", 2.2, 2.2, 2.2, False, 5),
                               ("c", "ok", 5.0, 5.0, 5.0, True, 6)],
         # b has no row at all (a part cut short): a miss
         ("disco_steps4", 1): [("a", "ok", 1.5, 1.5, 1.5, True, 3), ("c", "ok", 3.0, 3.0, 3.0, True, 5)],
         # the null latent has seed 0 only: per seed, never pooled
         ("null_steps4", 0): [("a", "ok", 2.5, 1.8, 1.8, True, 4), ("b", "ok", 1.2, 1.2, 1.2, True, 4),
                              ("c", "ok", 6.0, 6.0, 6.0, False, 5)]}


@pytest.fixture
def records(tmp_path):
    for (name, seed), rows in PARTS.items():
        _write_part(tmp_path, name, seed, rows)
    return tmp_path


def test_the_rule_takes_the_fewest_steps_within_the_margin():
    # today's (20 steps) 40; threshold 38: 4 steps misses (37), 8 qualifies (38), so does 12 (41, above today's)
    assert study.fast_steps_rule({4: 37, 8: 38, 12: 41, 20: 40}) == {
        "today_steps": 20, "today_best_of_ten": 40, "threshold": 38, "qualifying_steps": [8, 12, 20],
        "fast_steps": 8}
    # nothing fewer is within 2: today's steps stay
    assert study.fast_steps_rule({4: 30, 8: 35, 12: 37, 20: 40})["fast_steps"] == 20
    # the fewest qualifying count even when a middle one misses
    assert study.fast_steps_rule({4: 39, 8: 36, 12: 37, 20: 40})["qualifying_steps"] == [4, 20]


def test_summary_counts_by_hand(records, tmp_path):
    table = study.write_summary(records, tmp_path / "out")
    seed0, seed1, pooled = table["per_seed"]["seed0"], table["per_seed"]["seed1"], table["pooled"]
    # 20 steps, seed 0: top-1 < 2 a; best of ten a, b; valid a, b (c failed); the finished seconds 10, 12
    assert seed0["disco_steps20"] == {"runs": 3, "top1_lt2": 1, "top5_lt2": 1, "best_lt2": 2, "pb_valid_top1": 2,
                                      "median_seconds": 11.0}
    # 4 steps, seed 1: b's missing row is a miss; median of the finished seconds 3, 5
    assert seed1["disco_steps4"] == {"runs": 3, "top1_lt2": 1, "top5_lt2": 1, "best_lt2": 1, "pb_valid_top1": 2,
                                     "median_seconds": 4.0}
    assert seed0["null_steps4"]["best_lt2"] == 2 and seed0["null_steps4"]["top1_lt2"] == 1
    # pooled over both seeds (six runs): only the settings complete in both; the null latent is not
    assert sorted(pooled) == ["disco_steps12", "disco_steps20", "disco_steps4", "disco_steps8"]
    assert {name: pooled[name]["best_lt2"] for name in pooled} == {
        "disco_steps20": 4, "disco_steps12": 4, "disco_steps8": 3, "disco_steps4": 1}
    assert pooled["disco_steps20"]["top1_lt2"] == 2 and pooled["disco_steps20"]["median_seconds"] == 10.0
    # paired top-1 against 20 steps: 4 steps is < 2 A alone on (1, a), 20 steps alone on (0, a) and (1, b)
    assert table["paired_top1"]["disco_steps4_vs_disco_steps20"] == {"only_first_lt2": 1, "only_second_lt2": 2}
    # the rule: today's 4, threshold 2; 4 steps (1) misses, 8 steps (3) is the fewest within it
    verdict = table["rule"]["verdict"]
    assert verdict["threshold"] == 2 and verdict["qualifying_steps"] == [8, 12, 20] and verdict["fast_steps"] == 8
    assert verdict["null_latent_within_threshold"] == []
    assert table["parts_complete"]["null_steps4"] == ["seed0"]

    written = tmp_path / "out"
    assert json.loads((written / "summary_val.json").read_text()) == table
    assert (written / "best_of_ten_vs_steps.png").stat().st_size > 0
    with open(written / "per_complex_val.csv", newline="") as handle:
        rows = {(row["seed"], row["id"]): row for row in csv.DictReader(handle)}
    assert len(rows) == 6
    missing = rows[("1", "b")]      # 4 steps, seed 1 has no row for b
    assert float(missing["disco_steps4_top1"]) == INF and float(missing["disco_steps4_best_of_ten"]) == INF
    assert float(rows[("0", "b")]["null_steps4_best_of_ten"]) == 1.2 and rows[("1", "b")]["null_steps4_top1"] == ""
    assert float(rows[("0", "c")]["disco_steps20_top1"]) == INF      # the failed complex


def test_no_verdict_until_every_disco_part_is_there(records, tmp_path):
    (study.record_folder(records, "disco_steps12", 1) / "results.csv").unlink()
    table, _ = study.summary(records)
    assert table["rule"] == {"verdict": None, "missing": ["disco_steps12_s1"]}
    assert "disco_steps12" not in table["pooled"] and "disco_steps12" in table["per_seed"]["seed0"]


def test_parts_run_in_the_rules_order():
    order = [f"{name}_s{seed}" for name, seed in study.parts()]
    assert order[:5] == ["disco_steps4_s0", "disco_steps8_s0", "disco_steps12_s0", "disco_steps20_s0",
                         "null_steps4_s0"]
    assert order[8] == "disco_steps4_s1" and len(order) == 16


@pytest.mark.parametrize("name", ["disco_steps8", "null_steps4"])
def test_each_part_runs_the_fast_preset_at_its_steps(name, tmp_path):
    from benchmarks.cli import _options
    from benchmarks.dock_bench import DiscoMethod
    from disco_core.cli import build_parser
    from docking.request.presets import FAST

    command = study.bench_command(name, 0, tmp_path, tmp_path, tmp_path / "val.txt")
    args = build_parser().parse_args(command[1:])
    method = args.methods
    model, steps = study.parse_setting(name)
    assert method == study.MODELS[model]
    preset = DiscoMethod(method, None, _options(args, (method,)), method).preset
    assert preset == dataclasses.replace(FAST, steps=steps)
