"""RESULT.md's test table for the Vina-exact atom typing (benchmarks/results/vina_typing_val, after its val
decision): the default with the new typing on test (test_seed{0,1}, disco only) beside the default before the change
and AutoDock Vina (exhaustiveness 8) from the README's test records (../default_s30_vs_vina/test_seed{0,1}; Vina does
not depend on our typing), with per-complex paired counts.
    python -m benchmarks.studies.vina_typing_test --records benchmarks/results/vina_typing_val
Writes summary_test.json and per_complex_test.csv to --out (default: the records folder)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.studies import log_to_console, paired_counts, seeded_runs, seeded_summary_main

STUDY = "vina_typing_val"
SEEDS = (0, 1)


def summary(records: Path) -> tuple[dict, list[dict]]:
    """summary_test.json's table and per_complex_test.csv's rows (the complexes of the new typing's runs)."""
    before = str(records.parent / "default_s30_vs_vina" / "test_seed{s}")
    sources = {"vina_typing": (str(records / "test_seed{s}"), "disco"), "before": (before, "disco"),
               "vina": (before, "vina")}
    table, top1, per_complex = seeded_runs(sources, SEEDS, "vina_typing")
    for other in ("before", "vina"):
        table[f"paired_vina_typing_vs_{other}"] = paired_counts(top1, "vina_typing", other)
    return table, per_complex


def main(argv: list[str] | None = None) -> None:
    seeded_summary_main(argv, __doc__, STUDY, summary, split="test")


if __name__ == "__main__":
    log_to_console()
    main()
