"""`disco bench speed --size-sweep`: choosing the receptors by size, the rows and records, one real run."""

import csv
import io
import json
import shutil

import pytest
from Bio.PDB import PDBParser

from benchmarks.size_sweep import (CSV_COLUMNS, PIPELINE_STAGES, STAGE_COLUMNS, SweepReceptor, SweepSettings,
                                   csv_text, markdown_table, pick_sizes, protein_size, run_size_sweep, sweep_receptors,
                                   sweep_row)
from disco_core.errors import DiscoError
from docking.inference.pipeline import STAGES

from tests.conftest import REPO


def _atom(serial: int, name: str, residue: str, chain: str, number: int, element: str, record: str = "ATOM") -> str:
    return (f"{record:<6}{serial:>5} {name:<4} {residue:>3} {chain}{number:>4}    "
            f"{1.0 * serial:8.3f}{0.0:8.3f}{0.0:8.3f}{1.0:6.2f}{0.0:6.2f}          {element:>2}\n")


def _pdb(heavy_atoms: int, chains: str = "A") -> str:
    """`heavy_atoms` carbon atoms dealt over `chains`, each followed by a hydrogen."""
    lines = []
    for i in range(heavy_atoms):
        chain = chains[i % len(chains)]
        lines.append(_atom(2 * i + 1, "CA", "GLY", chain, i + 1, "C"))
        lines.append(_atom(2 * i + 2, "HA2", "GLY", chain, i + 1, "H"))
    return "".join(lines) + "END\n"


def test_pipeline_stages_are_the_sweeps():
    assert PIPELINE_STAGES == STAGES
    assert STAGE_COLUMNS[0] == "imports" and STAGE_COLUMNS[-1] == "contacts"


def test_pick_sizes_smallest_median_largest():
    # sorted: b 100, c 300, d 300 (tie: by id), a 500, e 9000 -> median index 2 is d
    assert pick_sizes({"a": 500, "b": 100, "c": 300, "d": 300, "e": 9000}) == [
        ("small", "b"), ("medium", "d"), ("largest", "e")]
    # even count: the lower median (index 1 of 0..3)
    assert pick_sizes({"w": 4, "x": 1, "y": 2, "z": 3}) == [("small", "x"), ("medium", "y"), ("largest", "w")]
    assert pick_sizes({"x": 5, "y": 7}) == [("small", "x"), ("largest", "y")]
    assert pick_sizes({"x": 5}) == [("largest", "x")]
    assert pick_sizes({}) == []


def test_protein_size_counts_heavy_atoms_and_chains(tmp_path):
    text = (_atom(1, "N", "ALA", "A", 1, "N") + _atom(2, "CA", "ALA", "A", 1, "C")
            + _atom(3, "H", "ALA", "A", 1, "H")                         # hydrogen by its element
            + _atom(4, "1HB", "ALA", "A", 1, "")                        # hydrogen by its name (no element)
            + _atom(5, "D", "ALA", "A", 1, "D")                         # deuterium
            + _atom(6, "CA", "GLY", "B", 2, "C")
            + _atom(7, "ZN", " ZN", "C", 3, "ZN", record="HETATM")
            + "ENDMDL\n" + _atom(8, "CA", "GLY", "D", 4, "C"))          # a second model: not counted
    path = tmp_path / "p.pdb"
    path.write_text(text)
    assert protein_size(path) == (4, 3)       # N, CA, CA, ZN; chains A, B, C


def test_protein_size_agrees_with_biopython():
    path = REPO / "examples" / "1s3v" / "1s3v_protein.pdb"
    structure = PDBParser(QUIET=True).get_structure("p", path)[0]
    heavy = [atom for atom in structure.get_atoms() if atom.element not in ("H", "D")]
    assert protein_size(path) == (len(heavy), len(list(structure.get_chains())))


def test_sweep_receptors_picks_by_heavy_atoms(tmp_path):
    for name, atoms in (("big1", 5), ("mid1", 3), ("tiny", 2), ("abcd", 4)):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}_protein.pdb").write_text(_pdb(atoms, "AB"))
        (tmp_path / name / f"{name}_ligand.sdf").write_text("")
    (tmp_path / "nolig").mkdir()                                        # incomplete: left out
    (tmp_path / "nolig" / "nolig_protein.pdb").write_text(_pdb(50))
    picked = sweep_receptors(tmp_path)
    # sizes tiny 2, mid1 3, abcd 4, big1 5: the lower median (index 1) is mid1
    assert [(r.size, r.id, r.protein_heavy_atoms, r.chains) for r in picked] == [
        ("small", "tiny", 2, 2), ("medium", "mid1", 3, 2), ("largest", "big1", 5, 2)]
    assert picked[2].protein_path == str(tmp_path / "big1" / "big1_protein.pdb")
    assert picked[2].ligand_path == str(tmp_path / "big1" / "big1_ligand.sdf")
    split = tmp_path / "split.txt"
    split.write_text("abcd\ntiny\n")
    assert [(r.size, r.id) for r in sweep_receptors(tmp_path, split)] == [("small", "tiny"), ("largest", "abcd")]


def test_sweep_row_totals_and_shares():
    receptor = SweepReceptor("largest", "9xyz", "p.pdb", "l.sdf", 20000, 8)
    seconds = {"imports": 1.0, "model_load": 0.5, "receptor": 0.25, "sites": 0.0, "ligand": 0.25, "maps": 2.0,
               "docking": 4.0, "report": 0.5, "other": 0.5, "contacts": 1.0}       # sum 10.0
    row = sweep_row(receptor, {"seconds": seconds, "n_poses": 10, "ligand_heavy_atoms": 30, "contacts_error": "",
                               "peak_rss_mb": 900.0})
    assert list(row) == list(CSV_COLUMNS)
    assert row["total_seconds"] == 10.0
    assert row["contacts_share"] == 0.1                  # 1 / 10
    assert row["contacts_added"] == pytest.approx(0.1111, abs=1e-4)   # 1 / 9
    assert row["maps_seconds"] == 2.0 and row["chains"] == 8 and row["error"] == ""
    failed = sweep_row(receptor, {"error": "RuntimeError: boom"})
    assert failed["total_seconds"] is None and failed["error"] == "RuntimeError: boom"

    text = csv_text([row, failed])
    read = list(csv.DictReader(io.StringIO(text)))
    assert tuple(read[0]) == CSV_COLUMNS and read[0]["id"] == "9xyz" and read[0]["docking_seconds"] == "4.0"
    assert read[1]["total_seconds"] == "" and read[1]["error"] == "RuntimeError: boom"
    table = markdown_table([row, failed])
    assert "| largest | 9xyz | 20000 | 8 | 1.00 |" in table and "| 10.0 | 11.1% |" in table
    assert "failed: RuntimeError: boom" in table


def test_size_sweep_one_shipped_complex(tmp_path):
    """A real run (fresh process, minimal settings) on the shipped example: every stage measured, the total
    their sum, the records written and in agreement."""
    shutil.copytree(REPO / "examples" / "1s3v", tmp_path / "data" / "1s3v")
    preset = {"physics_guidance": 3.0, "steps": 4, "refine_rounds": 1, "rank_by": "energy",
              "energy": "grid+pairwise", "refine_chains": 1, "random_starts": 0}
    settings = SweepSettings(preset=preset, samples=2, device="cpu")
    summary = run_size_sweep(tmp_path / "data", tmp_path / "out", settings, progress=False)
    (row,) = summary["rows"]
    assert row["error"] == "" and (row["size"], row["id"]) == ("largest", "1s3v")
    structure = PDBParser(QUIET=True).get_structure("p", tmp_path / "data" / "1s3v" / "1s3v_protein.pdb")[0]
    assert row["protein_heavy_atoms"] == sum(atom.element != "H" for atom in structure.get_atoms())
    assert row["n_poses"] == 2 and row["ligand_heavy_atoms"] == 27
    for stage in ("imports", "model_load", "receptor", "ligand", "maps", "docking", "report", "contacts"):
        assert row[f"{stage}_seconds"] > 0, stage
    assert row["sites_seconds"] == 0.0                   # the pocket is given: no site search
    stages = sum(row[f"{stage}_seconds"] for stage in STAGE_COLUMNS)
    assert row["total_seconds"] == pytest.approx(stages, abs=0.01)
    assert row["contacts_share"] == pytest.approx(row["contacts_seconds"] / row["total_seconds"], abs=1e-3)
    assert summary["target"]["contacts_added_on_largest"] == row["contacts_added"]

    written = list(csv.DictReader((tmp_path / "out" / "size_sweep.csv").open()))
    assert len(written) == 1 and float(written[0]["total_seconds"]) == row["total_seconds"]
    assert json.loads((tmp_path / "out" / "size_sweep.json").read_text())["rows"] == [row]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["size_sweep.csv", "size_sweep.json"]


def test_speed_without_split_or_sweep_is_one_line_error(tmp_path):
    from disco_core.cli import build_parser

    args = build_parser().parse_args(["bench", "speed", "--dataset", str(tmp_path), "--out", str(tmp_path / "o")])
    with pytest.raises(DiscoError, match="--split is required"):
        args.run(args)
