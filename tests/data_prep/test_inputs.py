import shutil

from data_prep.inputs import csv_jobs, pdbbind_jobs, safe_name

from .conftest import EXAMPLE


def test_pdbbind_layout_split_and_fallbacks(tmp_path):
    root = tmp_path / "pdbbind"
    shutil.copytree(EXAMPLE, root / "1s3v")
    (root / "1s3v" / "1s3v_ligand.mol2").write_text("fallback")
    (root / "1s3v" / "1s3v_protein_processed.pdb").write_text("preferred")
    split = tmp_path / "split.txt"
    split.write_text("1s3v\n\nabsent\n")
    jobs = pdbbind_jobs(root, split)
    assert [j.name for j in jobs] == ["1s3v", "absent"]
    assert jobs[0].protein_path.endswith("1s3v_protein_processed.pdb")
    assert jobs[0].ligand.endswith("1s3v_ligand.sdf") and jobs[0].ligand_fallbacks[0].endswith(".mol2")
    assert jobs[0].input_error is None and "no folder" in jobs[1].input_error


def test_csv_relative_paths_smiles_and_unique_file_names(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "1s3v")
    table = tmp_path / "in.csv"
    table.write_text("complex_name,protein_path,ligand_description,protein_sequence\n"
                     "a/b,1s3v/1s3v_protein.pdb,1s3v/1s3v_ligand.sdf,\n"
                     "a_b,1s3v/1s3v_protein.pdb,C/C=C/C(=O)O,MKV\n"
                     ",1s3v/1s3v_protein.pdb,CCO,\n")
    jobs = csv_jobs(table)
    assert jobs[0].protein_path == str(tmp_path / "1s3v" / "1s3v_protein.pdb")  # resolved next to the CSV
    assert jobs[1].ligand == "C/C=C/C(=O)O" and jobs[1].protein_sequence == "MKV"
    assert jobs[2].name == "complex_3"
    assert len({j.safe_name for j in jobs}) == 3  # "a/b" and "a_b" never share a file
    assert safe_name("1s3v") == "1s3v" and "/" not in jobs[0].safe_name
