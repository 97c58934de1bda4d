import csv
import json

import pytest

from data_prep.cache import load_item
from disco_core.cli import main

from .conftest import BAD_INPUTS, EXAMPLE


def _huge_protein(path, n_residues=20_000):
    """A poly-alanine backbone of `n_residues` residues in chains of 5,000 (PDB numbering stops at 9999)."""
    lines = []
    serial = 1
    for i in range(n_residues):
        chain, number = "ABCDEFGH"[i // 5000], i % 5000 + 1
        x, y, z = (i % 50) * 3.8, (i // 50 % 50) * 3.8, (i // 2500) * 3.8
        for name, dx in (("N", -1.2), ("CA", 0.0), ("C", 1.2)):
            lines.append(f"ATOM  {serial % 100000:>5} {name:<4} ALA {chain}{number:>4}    "
                         f"{x + dx:8.3f}{y:8.3f}{z:8.3f}  1.00 20.00           {name[0]:>1}\n")
            serial += 1
    path.write_text("".join(lines) + "END\n")


def test_bad_input_corpus_in_one_batch(tmp_path, capsys):
    protein, ligand = EXAMPLE / "1s3v_protein.pdb", EXAMPLE / "1s3v_ligand.sdf"
    huge = tmp_path / "huge.pdb"
    _huge_protein(huge)
    bad = {
        "empty_pdb": (BAD_INPUTS / "empty.pdb", ligand, "protein", "empty"),
        "truncated_pdb": (BAD_INPUTS / "truncated.pdb", ligand, "protein", "cannot parse"),
        "no_calpha": (BAD_INPUTS / "no_calpha.pdb", ligand, "protein", "C-alpha"),
        "cif_only_ligands": (BAD_INPUTS / "only_ligands.cif", ligand, "protein", "C-alpha"),
        "empty_sdf": (protein, BAD_INPUTS / "empty_ligand.sdf", "ligand", "empty"),
        "valence_sdf": (protein, BAD_INPUTS / "valence_error.sdf", "ligand", "valence"),
        "garbage_mol2": (protein, BAD_INPUTS / "garbage.mol2", "ligand", "cannot be read"),
        "garbage_sdf": (protein, BAD_INPUTS / "garbage.sdf", "ligand", "cannot be read"),
        "bad_smiles": (protein, "C1CC(", "ligand", "unparsable SMILES"),
        "unembeddable": (protein, "C1#CC1", "conformer", "cannot embed"),
        "missing_protein": (tmp_path / "nowhere.pdb", ligand, "protein", "not found"),
        "missing_ligand": (protein, tmp_path / "nowhere.sdf", "ligand", "not found"),
        "huge_protein": (huge, ligand, "protein", "max_residues=10000"),
    }
    table = tmp_path / "batch.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["complex_name", "protein_path", "ligand_description"])
        writer.writerow(["good", protein, ligand])
        for name, (p, lig, _, _) in bad.items():
            writer.writerow([name, p, lig])
        writer.writerow(["good", protein, "CCO"])  # duplicate name: must not overwrite "good"
    out = tmp_path / "cache"
    assert main(["prep", "--csv", str(table), "--out", str(out), "--workers", "2", "--no-progress"]) == 0

    rows = {r["name"]: r for r in csv.DictReader((out / "failures.csv").open())}
    assert len(rows) == len(bad) + 1
    for name, (_, _, stage, words) in bad.items():
        assert rows[name]["stage"] == stage, (name, rows[name])
        assert words.lower() in rows[name]["reason"].lower(), (name, rows[name])
        assert "\n" not in rows[name]["reason"]
    duplicate = [r for n, r in rows.items() if n.startswith("good@")]
    assert len(duplicate) == 1 and "duplicate complex_name 'good'" in duplicate[0]["reason"]
    item = load_item(out / "items" / "good.pt")
    assert item["lig_atom_features"].shape[0] == 27  # the first "good", not the duplicate's ethanol
    assert sorted(p.name for p in (out / "items").iterdir()) == ["good.pt"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_ok"] == 1 and summary["n_failed"] == len(bad) + 1
    err = capsys.readouterr().err
    assert err.count("disco prep: ") == len(bad) + 1  # one line per broken input


def test_every_item_failing_exits_1(tmp_path):
    out = tmp_path / "cache"
    assert main(["prep", "--pdbbind", str(BAD_INPUTS / "pdbbind_no_ligand"), "--out", str(out), "--no-progress"]) == 1
    rows = list(csv.DictReader((out / "failures.csv").open()))
    assert [(r["name"], r["stage"]) for r in rows] == [("nolig", "input")]


def test_missing_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["prep", "--csv", str(tmp_path / "none.csv"), "--out", str(tmp_path / "c")]) == 1
    assert "CSV file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["prep", "--csv", "a.csv", "--pdbbind", "d", "--out", str(tmp_path / "c")])
    assert exc.value.code == 2
