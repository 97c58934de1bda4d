"""Val + test table of the new default (grid+pairwise, 30 random starts) against Vina, from committed records:
test from the study's runs (DisCo and Vina in the same run), val from ../random_starts_val/val_rs30_seed{0,1}
(DisCo) and ../default_vs_vina/val_seed{0,1} (Vina, run 2026-12-02 with the same settings; Vina's code and inputs
have not changed since), both beside the records folder.
    python -m benchmarks.studies.default_vs_vina_r30 --records benchmarks/results/default_vs_vina_r30
Writes summary_val_test.json to --out (default: the records folder)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from benchmarks.pool import folder_counts
from benchmarks.studies import log_to_console, output_folder, study_parser

STUDY = "default_vs_vina_r30"
SEEDS = (0, 1)
log = logging.getLogger("summary")


def summary(records: Path) -> dict:
    runs = {"disco": [records.parent / "random_starts_val" / f"val_rs30_seed{s}" for s in SEEDS]
            + [records / f"test_seed{s}" for s in SEEDS],
            "vina": [records.parent / "default_vs_vina" / f"val_seed{s}" for s in SEEDS]
            + [records / f"test_seed{s}" for s in SEEDS]}
    table = {method: folder_counts(folders, method) for method, folders in runs.items()}
    return table


def main(argv: list[str] | None = None) -> None:
    args = study_parser(__doc__, STUDY).parse_args(argv)
    table = summary(args.records)
    (output_folder(args, STUDY) / "summary_val_test.json").write_text(json.dumps(table, indent=2) + "\n")
    log.info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
