"""screen100.smi: the first 100 ligands of ../shared/data/index.csv with at most 35 heavy atoms and 8 rotatable
bonds (1s3v's own ligand left out), as SMILES with a name; docked into 1s3v's pocket they measure the report's
size and the interactions' time on a screen of drug-sized molecules (not an accuracy test: they are other
proteins' ligands).
    python -m benchmarks.studies.report_screen100_make_screen --index ../shared/data/index.csv
Writes screen100.smi to --out (default benchmarks/results/report_screen100)."""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.studies import DATASET, output_folder, study_parser

STUDY = "report_screen100"


def screen(index: Path, size: int = 100) -> str:
    with open(index, newline="") as handle:
        rows = [row for row in csv.DictReader(handle)
                if row["ligand_smiles"] and int(row["n_ligand_heavy_atoms"]) <= 35
                and int(row["n_rotatable_bonds"]) <= 8 and row["name"] != "1s3v"]
    return "".join(f"{row['ligand_smiles']} {row['name']}_lig\n" for row in rows[:size])


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY, records=False)
    parser.add_argument("--index", type=Path, default=DATASET.parent / "index.csv", metavar="CSV",
                        help="the dataset's index (default ../shared/data/index.csv beside the repository)")
    args = parser.parse_args(argv)
    (output_folder(args, STUDY) / "screen100.smi").write_text(screen(args.index))


if __name__ == "__main__":
    main()
