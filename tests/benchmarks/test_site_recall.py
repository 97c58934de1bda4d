"""`disco bench pockets` recall@N: the bookkeeping on hand-made sites at known distances, one run of the command
on vendored complexes, the one-line error for a finder that is not installed, and the optional third-party
finders (marked `pocket_finders`: deselected where `.[pockets]` is not installed, and a skip fails where it is)."""

import csv
import json
import shutil

import numpy as np
import pytest

from benchmarks.pocket_bench import (RECALL_AT, PocketBenchRow, finder_summary, first_hit, ligand_centroids,
                                     recall_at, score_sites, site_dccs)
from benchmarks.pocket_finders import FINDERS, FinderSpec, finder
from disco_core.cli import main
from tests.data_paths import REPO, VENDORED

LIGAND_AT_ORIGIN = np.zeros((1, 3))


def _row(name: str, distances: list[float], max_sites: int = 4) -> PocketBenchRow:
    """A complex whose ranked sites lie on the x axis at `distances` from a ligand centroid at the origin."""
    return score_sites(name, "disco", [(d, 0.0, 0.0) for d in distances], LIGAND_AT_ORIGIN, max_sites, 0.1)


def test_recall_at_n_counted_by_hand():
    """Five complexes: a hit at rank 1, one at rank 3, one at rank 6, none (4.0 A is not < 4 A), and a failed one
    (a miss). By hand: recall@1 = 1/5, @3 = 2/5, @5 = 2/5, @10 = 3/5; top-4 = 2/5 (the rank-6 hit is past 4)."""
    rows = [_row("a", [1.0, 9.0]), _row("b", [10.0, 6.0, 2.0]), _row("c", [9.0] * 5 + [3.0] + [9.0] * 4),
            _row("d", [4.0, 12.0]), PocketBenchRow("e", "failed", error="empty protein")]
    assert [r.first_hit for r in rows] == [1, 3, 6, None, None]
    assert [recall_at(rows, n) for n in RECALL_AT] == [0.2, 0.4, 0.4, 0.6]
    summary = finder_summary(rows, max_sites=4)
    assert summary["recall@1"] == summary["top1"] == 0.2 and summary["top4"] == 0.4
    assert summary["n"] == 5 and summary["n_failed"] == 1
    assert summary["median_dcc_site1_A"] == 6.5          # median of 1, 10, 9, 4 (the failed one has no site)
    assert rows[2].best_site == 1 and rows[2].dcc_best == 9.0 and rows[2].dccs[5] == 3.0


def test_dcc_takes_the_nearest_ligand_copy_and_first_hit_is_strict():
    copies = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0]])
    assert site_dccs([(18.0, 0.0, 0.0), (5.0, 0.0, 0.0)], copies) == [2.0, 5.0]
    assert first_hit([5.0, 4.0, 3.999]) == 3 and first_hit([]) is None


def test_a_finder_with_no_site_is_a_miss_not_a_failure():
    row = score_sites("x", "disco", [], LIGAND_AT_ORIGIN, 4, 0.1)
    assert row.status == "ok" and row.n_sites == 0 and row.first_hit is None
    assert recall_at([row], 10) == 0.0 and finder_summary([row], 4)["median_dcc_site1_A"] is None


def test_bench_pockets_reports_recall_at_n(tmp_path):
    """Our finder on two shipped complexes (vendored 1bju, the example 1s3v): every recall@N in the summary,
    non-decreasing in N, and results.csv with a row per complex holding the DCC of each of the first 10 sites and
    the rank of the first hit."""
    root = tmp_path / "data"
    shutil.copytree(VENDORED / "1bju", root / "1bju")
    shutil.copytree(REPO / "examples" / "1s3v", root / "1s3v")
    out = tmp_path / "run"
    assert main(["bench", "pockets", "--dataset", str(root), "--sites", "10", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    keys = [f"recall@{n}" for n in (1, 3, 5, 10)]
    assert set(summary["finders"]) == {"disco"} and summary["finder"] == "disco" and summary["recall_at"] == [1, 3, 5, 10]
    figures = summary["finders"]["disco"]
    assert {"n", "n_failed", "top1", "top10", "median_dcc_site1_A", "median_seconds", *keys} <= set(figures)
    recalls = [figures[k] for k in keys]
    assert recalls == sorted(recalls) and all(0.0 <= r <= 1.0 for r in recalls)
    assert figures["n"] == 2 and figures["top10"] == figures["recall@10"]
    assert all(summary[k] == figures[k] for k in keys)       # the top level repeats the first finder's figures
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["id"], r["finder"], r["status"]) for r in rows] == [("1bju", "disco", "ok"), ("1s3v", "disco", "ok")]
    assert [f"dcc_{i}" for i in range(1, 11)] == list(rows[0])[-10:]
    for row in rows:
        dccs = [float(row[f"dcc_{i}"]) for i in range(1, int(row["n_sites"]) + 1)]
        expected = next((rank for rank, d in enumerate(dccs, start=1) if d < 4.0), None)
        assert (int(row["first_hit"]) if row["first_hit"] else None) == expected
    assert recalls[-1] == sum(bool(r["first_hit"]) for r in rows) / 2


def test_a_finder_not_installed_is_one_error_line(tmp_path, capsys, monkeypatch):
    """A registered finder whose package is absent stops the run before it starts, naming the pip command."""
    monkeypatch.setitem(FINDERS, "absent", FinderSpec("absent", "benchmarks.pocket_finders.absent", "disco_no_such_pkg",
                                                      "pip install disco-no-such-pkg", "none"))
    out = tmp_path / "run"
    assert main(["bench", "pockets", "--dataset", str(VENDORED), "--finders", "disco,absent", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "absent is not installed: pip install disco-no-such-pkg" in err[0]
    assert not out.exists()
    assert main(["bench", "pockets", "--dataset", str(VENDORED), "--finders", "nope", "--out", str(out)]) == 1
    assert "unknown finder 'nope'" in capsys.readouterr().err


@pytest.mark.pocket_finders
@pytest.mark.parametrize("name", ["pykvfinder", "fpocket-rs", "pocketeer"])
def test_optional_finder_ranks_sites_on_a_real_protein(name):
    """Each third-party finder returns at most the sites asked for, as finite centres, and one of its first 10
    lies within 5 A of 1bju's ligand centroid (when this was written, the nearest: pykvfinder 4.5 A, fpocket-rs
    2.2 A, pocketeer 1.1 A)."""
    folder = VENDORED / "1bju"
    centres = finder(name)(str(folder / "1bju_protein.pdb"), 10)
    assert 1 <= len(centres) <= 10 and np.isfinite(np.array(centres)).all()
    row = score_sites("1bju", name, centres, ligand_centroids(str(folder / "1bju_ligand.sdf"), "1bju"), 10, 0.0)
    assert row.n_sites == len(centres) and min(row.dccs) < 5.0


def _two_complexes(tmp_path):
    """A dataset of two shipped complexes (vendored 1bju, the example 1s3v), in that order."""
    root = tmp_path / "data"
    shutil.copytree(VENDORED / "1bju", root / "1bju")
    shutil.copytree(REPO / "examples" / "1s3v", root / "1s3v")
    return root


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_bench_pockets_resumes_where_it_stopped(tmp_path):
    """Stopped after one complex (--limit 1), the same --out run again on both records only the second: the first
    row stays as written (its seconds too: not run again), no row twice; a third run changes nothing. The rows
    match a run done in one go but for the seconds. Another --sites replaces the records instead."""
    root = _two_complexes(tmp_path)
    out = tmp_path / "run"
    assert main(["bench", "pockets", "--dataset", str(root), "--limit", "1", "--out", str(out)]) == 0
    first = _lines(out / "results.csv")
    assert len(first) == 2 and first[1].startswith("1bju,ok,")
    assert main(["bench", "pockets", "--dataset", str(root), "--out", str(out)]) == 0
    resumed = _lines(out / "results.csv")
    assert resumed[:2] == first and len(resumed) == 3 and resumed[2].startswith("1s3v,ok,")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and summary["finders"]["disco"]["n"] == 2
    assert main(["bench", "pockets", "--dataset", str(root), "--out", str(out)]) == 0
    assert _lines(out / "results.csv") == resumed
    assert json.loads((out / "summary.json").read_text()) == summary
    # the same figures as one uninterrupted run
    whole = tmp_path / "whole"
    assert main(["bench", "pockets", "--dataset", str(root), "--out", str(whole)]) == 0
    without_seconds = lambda path: [{k: v for k, v in r.items() if k != "seconds"}
                                    for r in csv.DictReader(path.open())]
    assert without_seconds(out / "results.csv") == without_seconds(whole / "results.csv")
    fresh = json.loads((whole / "summary.json").read_text())
    assert {k: v for k, v in fresh.items() if k not in ("median_seconds", "finders")} == \
           {k: v for k, v in summary.items() if k not in ("median_seconds", "finders")}
    # other settings: the records are replaced, not resumed
    assert main(["bench", "pockets", "--dataset", str(root), "--sites", "1", "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["id"] for r in rows] == ["1bju", "1s3v"] and all(r["best_site"] in ("1", "") for r in rows)


def test_bench_pockets_records_each_complex_as_it_goes(tmp_path, monkeypatch):
    """A run interrupted while on the second complex (our finder stops there) has already recorded the first in
    results.csv; the rerun adds the second once."""
    import benchmarks.pocket_finders.disco_sites as disco_sites
    from benchmarks.pocket_bench import run_pocket_bench

    root = _two_complexes(tmp_path)
    out = tmp_path / "run"
    search = disco_sites.site_centres

    def stops_at_1s3v(protein_path, max_sites):
        if "1s3v" in str(protein_path):
            raise KeyboardInterrupt
        return search(protein_path, max_sites)

    monkeypatch.setattr(disco_sites, "site_centres", stops_at_1s3v)
    with pytest.raises(KeyboardInterrupt):
        run_pocket_bench(str(root), None, out)
    recorded = _lines(out / "results.csv")
    assert len(recorded) == 2 and recorded[1].startswith("1bju,ok,") and not (out / "summary.json").exists()
    monkeypatch.setattr(disco_sites, "site_centres", search)
    summary = run_pocket_bench(str(root), None, out)
    lines = _lines(out / "results.csv")
    assert lines[:2] == recorded and [line.split(",")[0] for line in lines[1:]] == ["1bju", "1s3v"]
    assert summary["n"] == 2
