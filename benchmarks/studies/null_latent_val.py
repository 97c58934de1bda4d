"""PLAN.md's and PLAN_test.md's tables: the default (../default_vs_vina/<split>_seed*, beside the records folder)
against disco/null-latent (the records folder's <split>_seed*, copied from runs/null_latent_<split>_s*), per seed
and pooled, with a paired count per complex over the complexes both finished.
    python -m benchmarks.studies.null_latent_val --records benchmarks/results/null_latent_val [val|test|val+test]
(default: val). Writes per_complex.csv and summary.json (val), per_complex_test.csv and summary_test.json (test)
or per_complex_val_test.csv and summary_val_test.json (both) to --out (default: the records folder)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from benchmarks.pool import SUCCESS_A, TIE_A, method_rows, paired, winner
from benchmarks.studies import log_to_console, output_folder, study_parser, write_rows

STUDY = "null_latent_val"
SEEDS = (0, 1)
SUFFIX = {"val": "", "test": "_test", "val+test": "_val_test"}
WINNER = {"first": "disco", "second": "null-latent", "tie": "tie"}
log = logging.getLogger("paired")


def records_of(records: Path, method: str, split: str, seed: int) -> dict[str, dict]:
    """The finished rows of one run: the default's from ../default_vs_vina, null-latent's from the records."""
    folder = records.parent / "default_vs_vina" if method == "disco" else records
    rows = method_rows(folder / f"{split}_seed{seed}", method)
    return {name: row for name, row in rows.items() if row["status"] == "ok"}


def paired_rows(records: Path, split: str) -> list[dict]:
    """One row per complex and seed that both methods docked (the null-latent runs match the default's complexes)."""
    rows = []
    for seed in SEEDS:
        latent = records_of(records, "disco", split, seed)
        null = records_of(records, "disco/null-latent", split, seed)
        for name in sorted(set(latent) & set(null)):
            a, b = float(latent[name]["top1_rmsd"]), float(null[name]["top1_rmsd"])
            rows.append({"split": split, "seed": seed, "id": name, "top1_rmsd_disco": a, "top1_rmsd_null": b,
                         "top5_rmsd_disco": float(latent[name]["top5_min_rmsd"]),
                         "top5_rmsd_null": float(null[name]["top5_min_rmsd"]),
                         "best_rmsd_disco": float(latent[name]["min_rmsd"]),
                         "best_rmsd_null": float(null[name]["min_rmsd"]),
                         "winner": WINNER[winner(a, b, TIE_A)]})
    return rows


def summarise(rows: list[dict]) -> dict:
    def count(column: str, seed: int | None = None) -> int:
        return sum(r[column] < SUCCESS_A for r in rows if seed is None or r["seed"] == seed)

    summary = {"runs": len(rows)}
    for label, suffix in (("disco", "disco"), ("null_latent", "null")):
        summary[label] = {kind: {"pooled": count(f"{kind}_rmsd_{suffix}"),
                                 **{f"seed{s}": count(f"{kind}_rmsd_{suffix}", s) for s in SEEDS}}
                          for kind in ("top1", "top5", "best")}
    counted = paired({k: r["top1_rmsd_disco"] for k, r in enumerate(rows)},
                     {k: r["top1_rmsd_null"] for k, r in enumerate(rows)}, TIE_A)
    summary["paired_top1"] = {"disco": counted["first_lower"], "null-latent": counted["second_lower"],
                              "tie": counted["tie"]}
    summary["paired_top1_below_2A_only_one"] = {"disco": counted["only_first_lt2"],
                                                "null-latent": counted["only_second_lt2"]}
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY)
    parser.add_argument("which", nargs="?", choices=list(SUFFIX), default="val", help="split(s) (default val)")
    args = parser.parse_args(argv)
    rows = [row for split in args.which.split("+") for row in paired_rows(args.records, split)]
    if args.which == "val":   # the val records predate the split column; keep their layout
        rows = [{key: value for key, value in row.items() if key != "split"} for row in rows]
    out = output_folder(args, STUDY)
    write_rows(out / f"per_complex{SUFFIX[args.which]}.csv", rows)
    summary = summarise(rows)
    (out / f"summary{SUFFIX[args.which]}.json").write_text(json.dumps(summary, indent=1) + "\n")
    log.info("%s", json.dumps(summary, indent=1))


if __name__ == "__main__":
    log_to_console()
    main()
