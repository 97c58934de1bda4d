"""RESULT.md's val table for the Vina-exact atom typing (benchmarks/results/vina_typing_val/RULE.md): the default
with the new typing (val_seed{0,1}) beside the default before the change (before_val_seed{0,1}, the same command
run with the previous commit's code), with per-complex paired counts.
    python -m benchmarks.studies.vina_typing_val --records benchmarks/results/vina_typing_val
Writes summary_val.json and per_complex_val.csv to --out (default: the records folder)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.studies import log_to_console, paired_counts, seeded_runs, seeded_summary_main

STUDY = "vina_typing_val"
SEEDS = (0, 1)


def summary(records: Path) -> tuple[dict, list[dict]]:
    """summary_val.json's table and per_complex_val.csv's rows (the complexes of the new typing's runs)."""
    sources = {"vina_typing": (str(records / "val_seed{s}"), "disco"),
               "before": (str(records / "before_val_seed{s}"), "disco")}
    table, top1, per_complex = seeded_runs(sources, SEEDS, "vina_typing")
    table["paired_vina_typing_vs_before"] = paired_counts(top1, "vina_typing", "before")
    return table, per_complex


def main(argv: list[str] | None = None) -> None:
    seeded_summary_main(argv, __doc__, STUDY, summary)


if __name__ == "__main__":
    log_to_console()
    main()
