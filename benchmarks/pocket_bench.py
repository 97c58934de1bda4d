"""`disco bench pockets`: how often blind docking's site search puts a site on the real binding site.

The field's measure for pocket finders is DCC, the distance from a predicted site centre to the
ligand's centroid; a site "finds" the ligand when DCC < 4 A (fpocket, P2Rank and LIGSITE papers use
this cutoff). Reported: the fraction of complexes with site 1 within the cutoff (top-1) and with any
of the first N sites within it (top-N, the sites blind docking searches), over every complex of the run:
a complex that could not be scored counts as a miss, as in `disco bench dock`; the medians are over the
complexes that finished. When a complex has several copies of its ligand (`<id>_ligands.sdf`), the
nearest copy counts.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from data_prep.inputs import pdbbind_jobs
from disco_core.errors import InputError
from disco_core.io import atomic_write_text

from benchmarks.pose_metrics import read_references

DCC_CUTOFF_A = 4.0


@dataclass(frozen=True)
class PocketBenchRow:
    id: str
    status: str
    n_sites: int = 0
    dcc_site1: float | None = None       # A, site 1 to the nearest ligand copy's centroid
    dcc_best: float | None = None        # A, the best of the first N sites
    best_site: int | None = None         # which site (1-based) that is
    seconds: float = 0.0
    error: str = ""


def bench_complex(name: str, protein_path: str, ligand_path: str, max_sites: int) -> PocketBenchRow:
    from data_prep.protein import read_heavy_atoms
    from docking.inference.site_search import candidate_sites

    start = time.perf_counter()
    sites = candidate_sites(read_heavy_atoms(protein_path).pos, max_sites)
    seconds = time.perf_counter() - start
    centroids = np.array([ref.GetConformer().GetPositions().mean(0)
                          for ref in read_references(Path(ligand_path).parent, name)])
    dcc = [float(np.linalg.norm(centroids - np.array(site.center), axis=1).min()) for site in sites]
    best = int(np.argmin(dcc))
    return PocketBenchRow(name, "ok", len(sites), round(dcc[0], 3), round(dcc[best], 3), best + 1, round(seconds, 3))


def run_pocket_bench(dataset: str, split: str | None, out: str | Path, max_sites: int = 4,
                     limit: int | None = None) -> dict:
    """Score the site search on every complex; write OUT/results.csv and OUT/summary.json."""
    jobs = pdbbind_jobs(dataset, split)[:limit]
    if not jobs:
        raise InputError(dataset, "no complexes to benchmark")
    rows = []
    for job in jobs:
        try:
            if job.input_error:
                raise InputError(job.name, job.input_error)
            rows.append(bench_complex(job.name, job.protein_path, job.ligand, max_sites))
        except InputError as exc:
            print(f"skipped: {exc}", flush=True)
            rows.append(PocketBenchRow(job.name, "failed", error=str(exc)))
    done = [r for r in rows if r.status == "ok"]
    # rates over every complex, a failed one counting as a miss (as `disco bench dock` counts them)
    summary = {
        "dataset": str(dataset), "split": split, "max_sites": max_sites, "dcc_cutoff_A": DCC_CUTOFF_A,
        "n": len(rows), "n_failed": len(rows) - len(done),
        "top1": round(sum(r.dcc_site1 < DCC_CUTOFF_A for r in done) / len(rows), 3),
        f"top{max_sites}": round(sum(r.dcc_best < DCC_CUTOFF_A for r in done) / len(rows), 3),
        "median_dcc_site1_A": round(float(np.median([r.dcc_site1 for r in done])), 2) if done else None,
        "median_seconds": round(float(np.median([r.seconds for r in done])), 3) if done else None,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(PocketBenchRow.__dataclass_fields__), lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    atomic_write_text(out / "results.csv", table.getvalue())
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary
