"""The code of the studies whose records are in benchmarks/results/<study>/ (data, rules and results only).

One module per study, `<study>.py`, or `<study>_<script>.py` when a study has several scripts. Each runs from any
folder as `python -m benchmarks.studies.<name> --records benchmarks/results/<study> ...`: its paths are arguments
(`--records` the study's folder, `--dataset` the complexes, `--out` where it writes, by default the records
folder), with defaults relative to the repository root. Counting (a miss, a hit, a paired win) is
`benchmarks.pool`'s, shared with `disco bench pool`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import csv
import logging
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = ROOT / "runs"
DATASET = ROOT.parent / "shared" / "data" / "complexes"


def study_parser(doc: str | None, study: str, records: bool = True, dataset: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the studies' common paths: --records (default benchmarks/results/<study>), --out
    (default: the records folder) and, with `dataset`, --dataset (default ../shared/data/complexes)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if records:
        parser.add_argument("--records", type=Path, default=RESULTS / study, metavar="DIR",
                            help=f"the study's records (default {(RESULTS / study).relative_to(ROOT)})")
    if dataset:
        parser.add_argument("--dataset", type=Path, default=DATASET, metavar="DIR",
                            help="complexes, DIR/<id>/<id>_protein.pdb ... (default ../shared/data/complexes "
                                 "beside the repository)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where to write (default: the records folder" + ("" if records else f", "
                             f"{(RESULTS / study).relative_to(ROOT)}") + ")")
    return parser


def output_folder(args: argparse.Namespace, study: str) -> Path:
    """--out, or the records folder; created."""
    out = args.out or getattr(args, "records", None) or RESULTS / study
    out.mkdir(parents=True, exist_ok=True)
    return out


RUN_TABLES = ("config.json", "results.csv", "summary.json", "report.md", "failures.csv")


def copy_run_tables(run: Path, target: Path) -> Path:
    """A `disco bench dock` run's tables (not its poses) into a study's records folder `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for table in RUN_TABLES:
        if (run / table).is_file():
            shutil.copy2(run / table, target / table)
    return target


def write_rows(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    """rows as CSV (csv's own dialect, as the committed records were written)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def seeded_runs(sources: dict[str, tuple[str, str]], seeds: tuple[int, ...], reference: str
                ) -> tuple[dict, dict[str, dict], list[dict]]:
    """Runs of several settings over seeds, on the complexes of `reference`'s runs: `sources` maps a setting to
    (folder pattern with {s} for the seed, method). Returns each setting's counts (benchmarks.pool.counts, a
    missing row a miss), its top-1 RMSD per (seed, complex), and one row per (seed, complex) with every
    setting's top-1 RMSD."""
    from benchmarks.pool import counts, method_rows, rmsd

    runs = {name: {s: method_rows(folder.format(s=s), method) for s in seeds}
            for name, (folder, method) in sources.items()}
    ids = [(s, i) for s in seeds for i in runs[reference][s]]
    table = {name: counts([by_seed[s].get(i) for s, i in ids]) for name, by_seed in runs.items()}
    top1 = {name: {(s, i): rmsd(runs[name][s].get(i)) for s, i in ids} for name in runs}
    per_complex = [{"seed": s, "id": i, **{f"{name}_top1": top1[name][(s, i)] for name in runs}} for s, i in ids]
    return table, top1, per_complex


def paired_counts(top1: dict[str, dict], first: str, second: str) -> dict[str, int]:
    """Runs within 2 A at rank 1 with only `first` and with only `second` (benchmarks.pool.paired), from
    `seeded_runs`' top-1 RMSDs: the pair of numbers each seeded study's table reports per comparison."""
    from benchmarks.pool import paired

    counted = paired(top1[first], top1[second])
    return {k: counted[k] for k in ("only_first_lt2", "only_second_lt2")}


def log_to_console() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def seeded_summary_main(argv: list[str] | None, doc: str | None, study: str,
                        summary: Callable[[Path], tuple[dict, list[dict]]], split: str = "val") -> None:
    """The `main` of a study that tabulates seeded runs of one split: `summary(records)` gives
    summary_<split>.json's table and per_complex_<split>.csv's rows, written to --out (default: the records folder)."""
    import json

    args = study_parser(doc, study).parse_args(argv)
    table, per_complex = summary(args.records)
    out = output_folder(args, study)
    (out / f"summary_{split}.json").write_text(json.dumps(table, indent=2) + "\n")
    write_rows(out / f"per_complex_{split}.csv", per_complex)
    logging.getLogger("summary").info("%s", json.dumps(table, indent=2))
