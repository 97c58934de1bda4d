"""RESULT.md's val table from the committed records: the random-start runs (val_rs{30,80}_seed{0,1}) beside the
old default's and Vina's records (../default_vs_vina/val_seed{0,1}) and grid+pairwise R = 0's
(../grid_pairwise_val/val_seed{0,1}), both beside the records folder, with per-complex paired counts.
    python -m benchmarks.studies.random_starts_val --records benchmarks/results/random_starts_val
Writes summary_val.json and per_complex_val.csv to --out (default: the records folder)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.studies import log_to_console, paired_counts, seeded_runs, seeded_summary_main

STUDY = "random_starts_val"
SEEDS = (0, 1)


def sources(records: Path) -> dict[str, tuple[str, str]]:
    return {"R30": (str(records / "val_rs30_seed{s}"), "disco"), "R80": (str(records / "val_rs80_seed{s}"), "disco"),
            "default_old": (str(records.parent / "default_vs_vina" / "val_seed{s}"), "disco"),
            "grid_pairwise_R0": (str(records.parent / "grid_pairwise_val" / "val_seed{s}"), "disco"),
            "vina": (str(records.parent / "default_vs_vina" / "val_seed{s}"), "vina")}


def summary(records: Path) -> tuple[dict, list[dict]]:
    """summary_val.json's table and per_complex_val.csv's rows (the complexes of the R30 runs)."""
    table, top1, per_complex = seeded_runs(sources(records), SEEDS, "R30")
    for other in ("default_old", "vina"):
        table[f"paired_R30_vs_{other}"] = paired_counts(top1, "R30", other)
    return table, per_complex


def main(argv: list[str] | None = None) -> None:
    seeded_summary_main(argv, __doc__, STUDY, summary)


if __name__ == "__main__":
    log_to_console()
    main()
