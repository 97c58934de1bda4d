"""How well the interaction energy alone orders the decoy set (data/scorer_decoys): the baseline a learned pose
scorer must beat on the same poses. Per complex, the decoys are ranked by their energy (the lowest first), and
counted like a docking run: is the rank-1 pose within 2 A, is any of the five lowest, is any pose at all.

    python -m benchmarks.studies.decoy_energy_ranking --decoys data/scorer_decoys \
        --records benchmarks/results/decoy_energy_ranking

Writes per_complex.csv and summary.json (with the RMSD range of each decoy source). The decoys are training complexes: this describes the set, not the
docking of held-out complexes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from benchmarks.studies import ROOT, log_to_console, output_folder, study_parser, write_rows

log = logging.getLogger("decoy_energy_ranking")
STUDY = "decoy_energy_ranking"


def by_source(decoys_folder: Path) -> dict:
    """Per decoy source (docking.scoring.decoys.SOURCES): pose count, median RMSD and the shares < 2, 2-4, >= 4 A."""
    from docking.scoring.decoys import SOURCES, read_part

    rmsd, source = [], []
    for path in sorted(decoys_folder.glob("decoys_*of*.npz")):
        for d in read_part(path)[0]:
            rmsd.append(d.rmsd)
            source.append(d.source)
    rmsd, source = (np.concatenate(rmsd), np.concatenate(source)) if rmsd else (np.zeros(0), np.zeros(0))
    table = {}
    for index, name in enumerate(SOURCES):
        r = rmsd[source == index]
        if len(r):
            table[name] = {"poses": int(len(r)), "median_rmsd": round(float(np.median(r)), 2),
                           "lt2": round(float((r < 2).mean()), 4), "2_to_4": round(float(((r >= 2) & (r < 4)).mean()), 4),
                           "ge4": round(float((r >= 4).mean()), 4)}
    return table


def rank_by_energy(decoys_folder: Path) -> list[dict]:
    """One row per complex: its pose count, the RMSD of the lowest-energy pose, the lowest RMSD among the five
    lowest-energy poses and among all, and the share of poses within 2 A."""
    from docking.scoring.decoys import read_part

    rows = []
    for path in sorted(decoys_folder.glob("decoys_*of*.npz")):
        decoys, _ = read_part(path)
        for d in decoys:
            order = np.argsort(d.energy, kind="stable")
            rows.append({"complex": d.name, "part": path.stem, "poses": len(order),
                         "top1_rmsd": round(float(d.rmsd[order[0]]), 3),
                         "top5_best_rmsd": round(float(d.rmsd[order[:5]].min()), 3),
                         "best_rmsd": round(float(d.rmsd.min()), 3),
                         "share_within_2A": round(float((d.rmsd < 2.0).mean()), 4)})
    return rows


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    share = (lambda key: round(sum(r[key] < 2.0 for r in rows) / n, 4)) if n else (lambda key: None)
    return {"complexes": n, "poses": sum(r["poses"] for r in rows), "top1_lt2": share("top1_rmsd"),
            "top5_lt2": share("top5_best_rmsd"), "any_lt2": share("best_rmsd"),
            "mean_share_of_poses_within_2A": round(float(np.mean([r["share_within_2A"] for r in rows])), 4) if n else None}


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY)
    parser.add_argument("--decoys", type=Path, default=ROOT / "data" / "scorer_decoys", metavar="DIR",
                        help="the decoy parts (default data/scorer_decoys)")
    args = parser.parse_args(argv)
    rows = rank_by_energy(args.decoys)
    out = output_folder(args, STUDY)
    write_rows(out / "per_complex.csv", rows)
    table = {**summary(rows), "by_source": by_source(args.decoys)}
    (out / "summary.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(summary(rows), indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
