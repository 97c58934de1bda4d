"""benchmarks/studies: the shared paired count against hand-counted examples, and studies that rewrite their
committed summaries from the committed records alone (no ../shared, no runs/)."""

import math
import os
import subprocess
import sys

import pytest

from benchmarks.pool import counts, paired, rmsd, winner
from benchmarks.studies import RESULTS, ROOT

INF = math.inf


def test_paired_counts_by_hand():
    first = {"a": 1.0, "b": 3.0, "c": 1.95, "d": INF, "e": 5.0, "g": INF, "only_first": 0.5}
    second = {"a": 2.5, "b": 1.0, "c": 2.0, "d": 1.5, "e": 5.05, "g": INF, "only_second": 0.5}
    # by hand, over a..g (the keys both hold; a key of one side only is not a pair):
    #   a: 1.0 < 2.5 first lower, only first < 2      b: 3.0 > 1.0 second lower, only second < 2
    #   c: 0.05 apart, a tie, yet only first < 2      d: a miss (inf) against 1.5: second lower, only second < 2
    #   e: 0.05 apart, a tie, neither < 2             g: two misses, a tie
    assert paired(first, second) == {"n": 6, "first_lower": 1, "second_lower": 2, "tie": 3,
                                     "only_first_lt2": 2, "only_second_lt2": 2}
    # no tolerance: c and e go to the lower (first), only the two misses stay tied
    assert paired(first, second, tolerance=0.0) == {"n": 6, "first_lower": 3, "second_lower": 2, "tie": 1,
                                                    "only_first_lt2": 2, "only_second_lt2": 2}
    # the swap swaps the sides
    assert paired(second, first)["first_lower"] == 2 and paired(second, first)["only_first_lt2"] == 2


def test_winner_and_the_tie_band_edge():
    assert winner(1.0, 1.05) == "tie" and winner(1.0, 1.25) == "first" and winner(1.25, 1.0) == "second"
    assert winner(1.0, 1.125, tolerance=0.125) == "tie"      # the band's edge (exact in binary) is a tie
    assert winner(INF, INF) == "tie" and winner(INF, 30.0) == "second"


def test_rows_count_a_failure_and_a_missing_complex_as_misses():
    rows = [{"status": "ok", "top1_rmsd": "1.5", "top5_min_rmsd": "1.5", "min_rmsd": "0.5", "pb_valid": "True",
             "seconds": "10"},
            {"status": "ok", "top1_rmsd": "2.5", "top5_min_rmsd": "1.9", "min_rmsd": "1.9", "pb_valid": "False",
             "seconds": "30"},
            {"status": "failed", "top1_rmsd": "0.4", "top5_min_rmsd": "", "min_rmsd": "", "pb_valid": "False",
             "seconds": "1"},
            None]
    assert [rmsd(r) for r in rows] == [1.5, 2.5, INF, INF]
    # by hand: top-1 < 2 once, best-of-5 and best-of-all twice; median of the finished seconds 10 and 30
    assert counts(rows) == {"runs": 4, "top1_lt2": 1, "top5_lt2": 2, "best_lt2": 2, "pb_valid_top1": 1,
                            "median_seconds": 20.0}


def _rewrite(module, study, tmp_path, *extra):
    """Run the study with its committed records, outputs to tmp_path; the names it wrote."""
    module.main(["--records", str(RESULTS / study), "--out", str(tmp_path), *extra])
    return sorted(p.name for p in tmp_path.iterdir())


def _same_as_committed(study, tmp_path, names):
    for name in names:
        assert (tmp_path / name).read_bytes() == (RESULTS / study / name).read_bytes(), f"{study}/{name} differs"


def test_diffusion_steps_val_rewrites_its_committed_summary(tmp_path):
    from benchmarks.studies import diffusion_steps_val

    names = _rewrite(diffusion_steps_val, "diffusion_steps_val", tmp_path)
    assert names == ["per_complex_val.csv", "summary_val.json"]
    _same_as_committed("diffusion_steps_val", tmp_path, names)


@pytest.mark.parametrize("which,names", [("val", ["per_complex.csv", "summary.json"]),
                                         ("test", ["per_complex_test.csv", "summary_test.json"]),
                                         ("val+test", ["per_complex_val_test.csv", "summary_val_test.json"])])
def test_null_latent_val_rewrites_its_committed_paired_tables(tmp_path, which, names):
    from benchmarks.studies import null_latent_val

    assert _rewrite(null_latent_val, "null_latent_val", tmp_path, which) == names
    _same_as_committed("null_latent_val", tmp_path, names)


def test_default_s30_vs_vina_rewrites_its_summary_from_any_folder(tmp_path):
    """As a module, run from another folder: its paths come from the arguments and the repository root."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "benchmarks.studies.default_s30_vs_vina",
                    "--records", str(RESULTS / "default_s30_vs_vina"), "--out", str(out)],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    _same_as_committed("default_s30_vs_vina", out, ["summary_val_test.json"])


@pytest.mark.shared_data
def test_report_screen100_screen_is_rebuilt_from_the_shared_index(tmp_path):
    from benchmarks.studies import report_screen100_make_screen

    report_screen100_make_screen.main(["--out", str(tmp_path)])
    _same_as_committed("report_screen100", tmp_path, ["screen100.smi"])


def test_decoy_energy_ranking_by_hand(tmp_path):
    """Two complexes written as a decoy part: the lowest-energy pose of the first is near native (0.5 A), of the
    second 3 A away while a 1 A pose ranks second."""
    import numpy as np

    from benchmarks.studies.decoy_energy_ranking import rank_by_energy, summary
    from docking.scoring.decoys import ComplexDecoys, write_part

    def made(name, rmsd, energy):
        n = len(rmsd)
        return ComplexDecoys(name, np.zeros((n, 2, 3), np.float32), np.array(rmsd, np.float32),
                             np.array(energy, np.float32), np.array([0] + [1] * (n - 1), np.uint8))

    write_part(tmp_path / "decoys_1of1.npz", [made("a", [0.5, 4.0, 6.0], [-9.0, -7.0, -1.0]),
                                               made("b", [0.4, 3.0, 1.0, 8.0], [-5.0, -8.0, -6.0, 2.0])], {})
    rows = rank_by_energy(tmp_path)
    assert [(r["complex"], r["top1_rmsd"], r["top5_best_rmsd"], r["best_rmsd"]) for r in rows] == \
        [("a", 0.5, 0.5, 0.5), ("b", 3.0, 0.4, 0.4)]
    table = summary(rows)
    assert table.pop("mean_share_of_poses_within_2A") == pytest.approx((1 / 3 + 2 / 4) / 2, abs=1e-4)
    assert table == {"complexes": 2, "poses": 7, "top1_lt2": 0.5, "top5_lt2": 1.0, "any_lt2": 1.0}


def test_blind_comparison_counts_by_hand():
    """benchmarks.studies.blind_val: a refused blind complex is a miss, the time ratio pairs finished complexes only,
    and the site hits split the pocket-given successes."""
    from benchmarks.studies.blind_val import compare

    def row(top1, best, seconds, status="ok", valid="True"):
        return {"status": status, "top1_rmsd": top1, "top5_min_rmsd": best, "min_rmsd": best, "pb_valid": valid,
                "seconds": seconds}

    blind = {"a": row("1.0", "0.8", "30"), "b": row("6.0", "1.5", "90"), "c": row("", "", "0.3", "failed", ""),
             "d": row("9.0", "8.0", "80", valid="False")}
    given = {"a": row("1.2", "1.0", "10"), "b": row("1.1", "1.1", "30"), "c": row("1.9", "1.0", "20"),
             "d": row("3.0", "2.5", "40")}
    hits = {"a": True, "b": True, "c": False}
    result = compare(blind, given, hits, ["a", "b", "c", "d"])
    # by hand: blind top-1 < 2 only a; best < 2 a, b; valid a, b; given top-1 a, b, c; ratios 3, 3, 2 -> median 3
    assert result["blind"]["top1_lt2"] == 1 and result["blind"]["best_lt2"] == 2
    assert result["blind"]["pb_valid_top1"] == 2 and result["pocket_given"]["top1_lt2"] == 3
    assert result["refused_or_failed"] == 1 and result["docked_site_within_4A"] == 2
    assert result["blind_top1_lt2_with_site_hit"] == 1 and result["given_top1_lt2_with_site_hit"] == 2
    assert result["given_top1_lt2_without_site_hit"] == 1
    assert result["median_time_ratio_blind_over_given"] == 3.0


def test_blind_val_rewrites_its_committed_summary(tmp_path):
    from benchmarks.studies import blind_val

    names = _rewrite(blind_val, "blind_val", tmp_path, "summary")
    assert names == ["per_complex.csv", "summary.json"]
    _same_as_committed("blind_val", tmp_path, names)


def test_basin_ranker_counts_first_poses_by_hand():
    """Two runs: in the first F puts the 1 A pose first where E0 put a 5 A pose first (a win), in the second both put
    the 1.5 A pose first; a tie in the score goes to the written order."""
    from benchmarks.studies.basin_ranker import by_run, compare

    def pose(run, rank, rmsd, e0, f):
        return {"seed": "0", "id": run, "written_rank": str(rank), "rmsd": str(rmsd), "e0": str(e0), "F": str(f)}

    rows = [pose("a", 1, 5.0, -10.0, -7.0), pose("a", 2, 1.0, -9.8, -8.0), pose("a", 3, 3.0, -9.0, -8.0),
            pose("b", 1, 1.5, -11.0, -9.0), pose("b", 2, 6.0, -10.0, -9.0)]
    assert compare(by_run(rows), "F", "e0") == {"runs": 2, "top1": 2, "baseline_top1": 1, "wins": 1, "losses": 0,
                                                 "best_of_ten": 2}
