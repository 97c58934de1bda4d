"""screen100.smi: the first 100 ligands of ../shared/data/index.csv with at most 35 heavy atoms and 8 rotatable
bonds (1s3v's own ligand left out), as SMILES with a name; docked into 1s3v's pocket they measure the report's
size and the interactions' time on a screen of drug-sized molecules (not an accuracy test: they are other
proteins' ligands). Run from the repository root: python benchmarks/results/report_screen100/make_screen.py"""

import csv
from pathlib import Path

HERE = Path(__file__).parent
rows = [row for row in csv.DictReader(open(HERE.parents[2].parent / "shared" / "data" / "index.csv"))
        if row["ligand_smiles"] and int(row["n_ligand_heavy_atoms"]) <= 35 and int(row["n_rotatable_bonds"]) <= 8
        and row["name"] != "1s3v"]
(HERE / "screen100.smi").write_text("".join(f"{row['ligand_smiles']} {row['name']}_lig\n" for row in rows[:100]))
