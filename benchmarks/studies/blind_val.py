"""benchmarks/results/blind_val (RULE.md): blind docking with today's default beside the pocket-given default on
the same complexes and seeds (issue 42's measure; it decides nothing).

    # each part: a blind bench run (RULE.md's command), then its tables copied into the records
    python -m benchmarks.studies.blind_val copy --run runs/blind_val_s0 --split val --seed 0
    # the summary over every copied part: summary.json, per_complex.csv
    python -m benchmarks.studies.blind_val summary

The pocket-given figures are the committed records of the same default (`../vina_typing_val/<split>_seed<S>/`,
method `disco`); whether a docked site lay within 4 A of the ligand's centroid is read from
`../site_finder_settings/per_complex.csv` (today's setting, the same search code). A complex a run refused
(no cavity) or failed counts as a miss, as everywhere.
"""

from __future__ import annotations

import csv
import json
import logging
import statistics
from pathlib import Path

from benchmarks.pool import SUCCESS_A, counts, method_rows, rmsd
from benchmarks.studies import RESULTS, copy_run_tables, log_to_console, study_parser
from benchmarks.studies.site_finder_settings import TODAY, setting_name
from disco_core.io import atomic_open, atomic_write_text

STUDY = "blind_val"
log = logging.getLogger(STUDY)
TODAY_SETTING = setting_name(TODAY)     # PocketFinderSettings(), as site_finder_settings names it
POCKET_GIVEN = RESULTS / "vina_typing_val"
SITES = RESULTS / "site_finder_settings" / "per_complex.csv"


def part_folder(records: Path, split: str, seed: int) -> Path:
    return records / f"{split}_seed{seed}"


def site_hits(path: Path = SITES, setting: str = TODAY_SETTING) -> dict[str, bool]:
    """Complex id -> whether one of the 4 docked sites lay within 4 A of the ligand centroid (today's setting)."""
    with open(path, newline="") as handle:
        return {r["id"]: r["first_hit"] != "" for r in csv.DictReader(handle) if r["setting"] == setting}


def compare(blind: dict[str, dict], given: dict[str, dict], hits: dict[str, bool], ids: list[str]) -> dict:
    """Counts of the blind and pocket-given rows of the same complexes (a missing row is a miss), the paired
    median time ratio over the complexes both finished, and the site hits."""
    blind_rows = [blind.get(i) for i in ids]
    given_rows = [given.get(i) for i in ids]
    ratios = [float(blind[i]["seconds"]) / float(given[i]["seconds"]) for i in ids
              if rmsd(blind.get(i), "min_rmsd") < float("inf") and rmsd(given.get(i), "min_rmsd") < float("inf")
              and float(given[i]["seconds"]) > 0]
    return {"complexes": len(ids), "blind": counts(blind_rows), "pocket_given": counts(given_rows),
            "refused_or_failed": sum(not r or r.get("status") != "ok" for r in blind_rows),
            "docked_site_within_4A": sum(hits.get(i, False) for i in ids),
            "blind_top1_lt2_with_site_hit": sum(rmsd(blind.get(i)) < SUCCESS_A for i in ids if hits.get(i, False)),
            "given_top1_lt2_with_site_hit": sum(rmsd(given.get(i)) < SUCCESS_A for i in ids if hits.get(i, False)),
            "given_top1_lt2_without_site_hit": sum(rmsd(given.get(i)) < SUCCESS_A for i in ids
                                                   if not hits.get(i, False)),
            "median_time_ratio_blind_over_given": round(statistics.median(ratios), 2) if ratios else None}


def per_complex_rows(split: str, seed: int, blind: dict, given: dict, hits: dict, ids: list[str]) -> list[dict]:
    def cell(row, column):
        value = rmsd(row, column)
        return "" if value == float("inf") else round(value, 3)
    return [{"split": split, "seed": seed, "id": i, "site_within_4A": hits.get(i, False),
             "blind_status": (blind.get(i) or {}).get("status", "missing"),
             "blind_top1_rmsd": cell(blind.get(i), "top1_rmsd"), "blind_min_rmsd": cell(blind.get(i), "min_rmsd"),
             "given_top1_rmsd": cell(given.get(i), "top1_rmsd"), "given_min_rmsd": cell(given.get(i), "min_rmsd"),
             "blind_seconds": (blind.get(i) or {}).get("seconds", ""),
             "given_seconds": (given.get(i) or {}).get("seconds", "")} for i in ids]


def summarise(records: Path, out: Path) -> dict:
    hits = site_hits()
    summary, rows = {}, []
    for folder in sorted(records.glob("*_seed*")):
        split, seed = folder.name.rsplit("_seed", 1)
        blind = method_rows(folder, "disco")
        given = method_rows(POCKET_GIVEN / folder.name, "disco")
        ids = sorted(set(blind) | set(given))
        summary[folder.name] = compare(blind, given, hits, ids)
        rows += per_complex_rows(split, int(seed), blind, given, hits, ids)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    with atomic_open(out / "per_complex.csv") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["split"])
        writer.writeheader()
        writer.writerows(rows)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY)
    parser.add_argument("step", choices=("copy", "summary"))
    parser.add_argument("--run", type=Path, help="copy: the blind bench run")
    parser.add_argument("--split", default="val")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or args.records
    log_to_console()
    if args.step == "copy":
        log.info("copied to %s", copy_run_tables(args.run, part_folder(args.records, args.split, args.seed)))
    else:
        log.info("%s", json.dumps(summarise(args.records, out), indent=2))


if __name__ == "__main__":
    main()
