"""`disco bench pockets`: how often blind docking's site search puts a site on the real binding site.

The field's measure for pocket finders is DCC, the distance from a predicted site centre to the
ligand's centroid; a site "finds" the ligand when DCC < 4 A (fpocket, P2Rank and LIGSITE papers use
this cutoff). Reported per finder (`--finders`: ours, `disco`, and optional third-party finders, see
`benchmarks/pocket_finders/`): recall@N for N = 1, 3, 5, 10, the fraction of complexes with one of the
first N sites within the cutoff, and top-1 / top-N for N = `--sites` (the sites blind docking searches).
Every rate is over every complex of the run: a complex that could not be scored counts as a miss, as in
`disco bench dock`; the medians are over the complexes that finished. When a complex has several copies
of its ligand (`<id>_ligands.sdf`), the nearest copy counts.

At least max(RECALL_AT) sites are always asked for, so one run gives every recall@N; the first `--sites`
of them are exactly what a run asking for `--sites` alone returns (every finder here ranks first and cuts
after), so top-N does not depend on how many more were scored.

A run records as it goes: OUT/results.csv is rewritten (atomically) after every complex, and OUT/run.json names
the dataset, split and --sites it belongs to. Run again into the same OUT with those three unchanged, it
resumes: every (complex, finder) pair results.csv holds is kept as recorded and not run again, so a run over
hundreds of complexes can be stopped and continued, or given another finder later. With other settings OUT's
records are replaced (with a warning), as a fresh run would. The summary is always over the complexes and
finders of the run at hand.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from data_prep.inputs import pdbbind_jobs
from disco_core.errors import InputError
from disco_core.io import atomic_write_text

from benchmarks.pocket_finders import FINDERS, finder
from benchmarks.pose_metrics import read_references

DCC_CUTOFF_A = 4.0
RECALL_AT = (1, 3, 5, 10)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PocketBenchRow:
    id: str
    status: str
    n_sites: int = 0                     # sites scored (up to max(--sites, 10))
    dcc_site1: float | None = None       # A, site 1 to the nearest ligand copy's centroid
    dcc_best: float | None = None        # A, the best of the first N (--sites) sites
    best_site: int | None = None         # which site (1-based) that is
    seconds: float = 0.0
    error: str = ""
    finder: str = "disco"
    first_hit: int | None = None         # rank (1-based) of the first scored site within the cutoff; None: none
    dccs: tuple[float, ...] = ()         # A, every scored site in rank order (results.csv: dcc_1, dcc_2, ...)


def site_dccs(centres: list[tuple[float, float, float]], ligand_centroids: np.ndarray) -> list[float]:
    """DCC of each site, in rank order: the distance to the nearest ligand copy's centroid."""
    ligand_centroids = np.asarray(ligand_centroids, dtype=np.float64).reshape(-1, 3)
    return [float(np.linalg.norm(ligand_centroids - np.asarray(c), axis=1).min()) for c in centres]


def first_hit(dccs: list[float], cutoff: float = DCC_CUTOFF_A) -> int | None:
    """Rank (1-based) of the first site within `cutoff`, None when no site is: recall@N is then first_hit <= N,
    so one number per complex carries every N."""
    return next((rank for rank, dcc in enumerate(dccs, start=1) if dcc < cutoff), None)


def recall_at(rows: list[PocketBenchRow], n: int) -> float:
    """Share of `rows` (every complex, a failed one a miss) with a hit among the first n sites."""
    if not rows:
        return 0.0
    return round(sum(r.status == "ok" and r.first_hit is not None and r.first_hit <= n for r in rows) / len(rows), 3)


def ligand_centroids(ligand_path: str, name: str) -> np.ndarray:
    """Centroids (k, 3) of every crystal copy of the complex's ligand."""
    return np.array([ref.GetConformer().GetPositions().mean(0)
                     for ref in read_references(Path(ligand_path).parent, name)])


def score_sites(name: str, finder_name: str, centres: list[tuple[float, float, float]], centroids: np.ndarray,
                max_sites: int, seconds: float) -> PocketBenchRow:
    """One complex's row from a finder's ranked site centres."""
    if not centres:      # a finder that finds no pocket has no site to dock in: a miss, not a failure
        return PocketBenchRow(name, "ok", 0, seconds=round(seconds, 3), finder=finder_name)
    dccs = site_dccs(centres, centroids)
    best = int(np.argmin(dccs[:max_sites]))
    return PocketBenchRow(name, "ok", len(dccs), round(dccs[0], 3), round(dccs[best], 3), best + 1,
                          round(seconds, 3), finder=finder_name, first_hit=first_hit(dccs),
                          dccs=tuple(round(d, 3) for d in dccs))


def bench_finder(name: str, protein_path: str, centroids: np.ndarray, max_sites: int,
                 finder_name: str) -> PocketBenchRow:
    """One finder on one complex. Ours may only fail with an InputError (anything else is a bug to see); a
    third-party finder failing on one protein (its parser, a degenerate tessellation) is that complex's miss,
    recorded with the error, not the end of a run of hundreds."""
    contained = (InputError,) if FINDERS[finder_name].requires == "" else (Exception,)
    site_centres = finder(finder_name)      # imported before the clock starts: seconds are the search alone
    start = time.perf_counter()
    try:
        centres = site_centres(protein_path, max(max_sites, *RECALL_AT))
    except contained as exc:
        log.warning("%s: %s failed: %s", name, finder_name, exc)
        return PocketBenchRow(name, "failed", seconds=round(time.perf_counter() - start, 3),
                              error=f"{type(exc).__name__}: {exc}", finder=finder_name)
    return score_sites(name, finder_name, centres, centroids, max_sites, time.perf_counter() - start)


def finder_summary(rows: list[PocketBenchRow], max_sites: int) -> dict:
    """One finder's figures: recall@N, top-1 / top-N (N = --sites) and the medians over finished complexes."""
    done = [r for r in rows if r.status == "ok"]
    scored = [r for r in done if r.n_sites]
    top_n = sum(r.dcc_best is not None and r.dcc_best < DCC_CUTOFF_A for r in done)
    summary = {
        "n": len(rows), "n_failed": len(rows) - len(done),
        **{f"recall@{n}": recall_at(rows, n) for n in RECALL_AT},
        "top1": recall_at(rows, 1),
        f"top{max_sites}": round(top_n / len(rows), 3) if rows else 0.0,
        "median_dcc_site1_A": round(float(np.median([r.dcc_site1 for r in scored])), 2) if scored else None,
        "median_seconds": round(float(np.median([r.seconds for r in done])), 3) if done else None,
    }
    return summary


def run_pocket_bench(dataset: str, split: str | None, out: str | Path, max_sites: int = 4,
                     limit: int | None = None, finders: tuple[str, ...] = ("disco",)) -> dict:
    """Score each finder on every complex; write OUT/results.csv (a row per complex and finder, rewritten after
    each complex; the pairs an earlier run of the same settings recorded there are kept, not run again) and
    OUT/summary.json. The summary's top-level figures are the first finder's (the fields older readers use);
    `finders` holds every finder's."""
    unknown = [name for name in finders if name not in FINDERS]
    if unknown:
        raise InputError("--finders", f"unknown finder(s) {', '.join(unknown)}")
    jobs = pdbbind_jobs(dataset, split)[:limit]
    if not jobs:
        raise InputError(dataset, "no complexes to benchmark")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = run_settings(dataset, split, max_sites)
    rows = recorded_rows(out, settings)
    if rows:
        log.info("%s: resumed, %d (complex, finder) rows recorded before are kept", out, len(rows))
    n_dcc = max(max_sites, *RECALL_AT)
    # records of other settings go before run.json names this run's: a stop in between never resumes them
    atomic_write_text(out / "results.csv", results_table(rows, n_dcc))
    atomic_write_text(out / RUN_FILE, json.dumps(settings, indent=2) + "\n")
    done = {(row.id, row.finder) for row in rows}
    for job in jobs:
        todo = [name for name in finders if (job.name, name) not in done]
        if not todo:
            continue
        try:
            if job.input_error:
                raise InputError(job.name, job.input_error)
            centroids = ligand_centroids(job.ligand, job.name)
        except InputError as exc:
            log.warning("skipped: %s", exc)
            rows.extend(PocketBenchRow(job.name, "failed", error=str(exc), finder=name) for name in todo)
        else:
            rows.extend(bench_finder(job.name, job.protein_path, centroids, max_sites, name) for name in todo)
        atomic_write_text(out / "results.csv", results_table(rows, n_dcc))     # recorded before the next complex
    names = {job.name for job in jobs}
    by_finder = {name: finder_summary([r for r in rows if r.finder == name and r.id in names], max_sites)
                 for name in finders}
    for name, figures in by_finder.items():
        figures["ranking"] = FINDERS[name].ranking
    summary = {
        "dataset": str(dataset), "split": split, "max_sites": max_sites, "dcc_cutoff_A": DCC_CUTOFF_A,
        "recall_at": list(RECALL_AT), "sites_scored": max(max_sites, *RECALL_AT), "finder": finders[0],
        **{k: v for k, v in by_finder[finders[0]].items() if k != "ranking"},
        "finders": by_finder,
    }
    atomic_write_text(out / "results.csv", results_table(rows, n_dcc))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


RUN_FILE = "run.json"


def run_settings(dataset: str | Path, split: str | Path | None, max_sites: int) -> dict:
    """What a run's records depend on (OUT/run.json): the dataset and split (resolved paths) and --sites."""
    return {"dataset": str(Path(dataset).resolve()), "split": None if split is None else str(Path(split).resolve()),
            "max_sites": max_sites}


def recorded_rows(out: Path, settings: dict) -> list[PocketBenchRow]:
    """The rows an earlier run with the same settings recorded in OUT/results.csv (a resume); none when OUT holds
    no records, or records of other settings (or of no known settings), which this run replaces."""
    results = out / "results.csv"
    if not results.is_file():
        return []
    try:
        saved = json.loads((out / RUN_FILE).read_text())
    except (OSError, ValueError):
        saved = None
    if saved != settings:
        log.warning("%s holds results of other settings than this run's (%s); they are replaced", out,
                    ", ".join(f"{key} {value}" for key, value in settings.items()))
        return []
    return read_results(results)


def read_results(path: Path) -> list[PocketBenchRow]:
    """The rows of a results.csv (as results_table writes them)."""
    def number(text: str, kind):
        return None if text == "" else kind(text)

    rows = []
    with path.open(newline="") as handle:
        for record in csv.DictReader(handle):
            n_dcc = sum(key.startswith("dcc_") and key[4:].isdigit() for key in record)
            rows.append(PocketBenchRow(
                record["id"], record["status"], int(record["n_sites"]), number(record["dcc_site1"], float),
                number(record["dcc_best"], float), number(record["best_site"], int), float(record["seconds"]),
                record["error"], record["finder"], number(record["first_hit"], int),
                tuple(float(record[f"dcc_{i}"]) for i in range(1, n_dcc + 1) if record[f"dcc_{i}"] != "")))
    return rows


def results_table(rows: list[PocketBenchRow], n_dcc: int) -> str:
    """results.csv: the row fields, then dcc_1 ... dcc_<n_dcc> (empty past a finder's last site)."""
    fields = [f for f in PocketBenchRow.__dataclass_fields__ if f != "dccs"]
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=fields + [f"dcc_{i}" for i in range(1, n_dcc + 1)],
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = {k: v for k, v in asdict(row).items() if k != "dccs"}
        record.update({f"dcc_{i}": d for i, d in enumerate(row.dccs, start=1)})
        writer.writerow(record)
    return table.getvalue()
