"""Val + test table of the 30-step default against Vina, from committed records: test from the study's runs
(DisCo, --fast and Vina in the same run), val from ../diffusion_steps_val/val_steps30_seed{0,1} (DisCo, the
rule's runs on the same code) and ../default_vs_vina/val_seed{0,1} (Vina, run 2026-12-02 with the same settings;
Vina's code and inputs have not changed since), both beside the records folder. The paired time ratio is the
median over test runs of DisCo's seconds over Vina's for the same complex and seed, Vina's stopped runs counted at
their 300 s.
    python -m benchmarks.studies.default_s30_vs_vina --records benchmarks/results/default_s30_vs_vina
Writes summary_val_test.json to --out (default: the records folder)."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from benchmarks.pool import counts, folder_counts, method_rows
from benchmarks.studies import log_to_console, output_folder, study_parser

STUDY = "default_s30_vs_vina"
SEEDS = (0, 1)
log = logging.getLogger("summary")


def rows(folder: Path, method: str) -> list[dict]:
    return list(method_rows(folder, method).values())


def paired_ratio(test: list[Path], method: str) -> float:
    """Median of method's seconds over Vina's, per complex and seed (Vina's stopped runs at their limit)."""
    ratios = []
    for folder in test:
        vina = method_rows(folder, "vina")
        for r in rows(folder, method):
            other = vina.get(r["id"])
            if r["status"] == "ok" and other is not None and other["seconds"]:
                ratios.append(float(r["seconds"]) / float(other["seconds"]))
    return round(statistics.median(ratios), 3)


def summary(records: Path) -> dict:
    test = [records / f"test_seed{s}" for s in SEEDS]
    val = {"disco": [records.parent / "diffusion_steps_val" / f"val_steps30_seed{s}" for s in SEEDS],
           "vina": [records.parent / "default_vs_vina" / f"val_seed{s}" for s in SEEDS]}
    table = {"test": {}, "val_test": {}}
    for method in ("disco", "disco/fast", "vina"):
        table["test"][method] = counts([r for folder in test for r in rows(folder, method)])
        if method != "vina":
            table["test"][method]["paired_seconds_ratio_to_vina"] = paired_ratio(test, method)
    for method, folders in val.items():
        table["val_test"][method] = folder_counts(folders + test, method)
    return table


def main(argv: list[str] | None = None) -> None:
    args = study_parser(__doc__, STUDY).parse_args(argv)
    table = summary(args.records)
    (output_folder(args, STUDY) / "summary_val_test.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
