"""The val table of RULE.md from the committed records: the default at 60, 30 and 20 reverse-diffusion steps
(val_steps{N}_seed{s}) beside the default's record on the code before cbf19bf (../random_starts_val/val_rs30_seed{s},
beside the records folder), with per-complex paired counts against 60 steps.
    python -m benchmarks.studies.diffusion_steps_val --records benchmarks/results/diffusion_steps_val
Writes summary_val.json and per_complex_val.csv to --out (default: the records folder)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.studies import log_to_console, paired_counts, seeded_runs, seeded_summary_main

STUDY = "diffusion_steps_val"
SEEDS = (0, 1)


def sources(records: Path) -> dict[str, str]:
    return {"steps60": str(records / "val_steps60_seed{s}"), "steps30": str(records / "val_steps30_seed{s}"),
            "steps20": str(records / "val_steps20_seed{s}"),
            "steps60_before_cbf19bf": str(records.parent / "random_starts_val" / "val_rs30_seed{s}")}


def summary(records: Path) -> tuple[dict, list[dict]]:
    """summary_val.json's table and per_complex_val.csv's rows (the complexes of the 60-step runs)."""
    table, top1, per_complex = seeded_runs({name: (folder, "disco") for name, folder in sources(records).items()},
                                           SEEDS, "steps60")
    for name in ("steps30", "steps20", "steps60_before_cbf19bf"):
        table[f"paired_{name}_vs_steps60"] = paired_counts(top1, name, "steps60")
    return table, per_complex


def main(argv: list[str] | None = None) -> None:
    seeded_summary_main(argv, __doc__, STUDY, summary)


if __name__ == "__main__":
    log_to_console()
    main()
