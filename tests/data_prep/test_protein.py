import gemmi
import numpy as np
import pytest

from data_prep.protein import RESIDUE_TYPES, UNKNOWN_RESIDUE, read_receptor
from disco_core.errors import InputError
from tests.data_paths import VENDORED_INDEX, index_rows


def test_example_matches_the_index_count(example_protein):
    rows = {r["name"]: r for r in index_rows(VENDORED_INDEX)}
    receptor = read_receptor(example_protein)
    assert receptor.num_residues == int(rows["1s3v"]["n_residues"]) == 186
    assert receptor.ca_pos.shape == receptor.n_pos.shape == receptor.c_pos.shape == (186, 3)
    assert receptor.ca_pos.dtype == np.float32
    assert receptor.residue_ids[0] == "A:1" and receptor.residue_names[0] == "VAL"
    assert receptor.residue_type[0] == RESIDUE_TYPES.index("VAL")
    # N-CA and C-CA bonds are ~1.46 / ~1.52 A
    assert np.allclose(np.linalg.norm(receptor.n_pos - receptor.ca_pos, axis=1), 1.46, atol=0.1)
    assert np.allclose(np.linalg.norm(receptor.c_pos - receptor.ca_pos, axis=1), 1.52, atol=0.1)


def test_mmcif_gives_the_same_residues(example_protein, tmp_path):
    structure = gemmi.read_structure(str(example_protein))
    structure.setup_entities()
    cif = tmp_path / "1s3v.cif"
    structure.make_mmcif_document().write_file(str(cif))
    from_pdb, from_cif = read_receptor(example_protein), read_receptor(cif)
    assert from_cif.residue_ids == from_pdb.residue_ids
    np.testing.assert_allclose(from_cif.ca_pos, from_pdb.ca_pos, atol=1e-3)
    assert (from_cif.residue_type == from_pdb.residue_type).all()


def _line(serial, name, resname, chain, resnum, x, y, z, element, record="ATOM", altloc=" ", icode=" ", occ=1.0):
    return (f"{record:<6}{serial:>5} {name:<4}{altloc}{resname:>3} {chain}{resnum:>4}{icode}   "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{occ:6.2f}{20.0:6.2f}          {element:>2}\n")


def test_altlocs_icodes_chains_hetero_and_hydrogens(tmp_path):
    lines = [
        # residue 10 of chain A with two CA alternates: B has higher occupancy and must win
        _line(1, "N", "SER", "A", 10, 0.0, 0.0, 0.0, "N"),
        _line(2, "CA", "SER", "A", 10, 1.4, 0.0, 0.0, "C", altloc="A", occ=0.3),
        _line(3, "CA", "SER", "A", 10, 1.5, 0.2, 0.0, "C", altloc="B", occ=0.7),
        _line(4, "C", "SER", "A", 10, 2.0, 1.4, 0.0, "C"),
        _line(5, "H", "SER", "A", 10, -0.9, 0.0, 0.0, "H"),
        # insertion code: 10A is its own residue
        _line(6, "N", "GLY", "A", 10, 3.0, 2.0, 0.0, "N", icode="A"),
        _line(7, "CA", "GLY", "A", 10, 4.0, 2.5, 0.0, "C", icode="A"),
        _line(8, "C", "GLY", "A", 10, 5.3, 2.0, 0.0, "C", icode="A"),
        # a residue without C-alpha (skipped, counted)
        _line(9, "N", "ALA", "A", 11, 6.0, 3.0, 0.0, "N"),
        # selenomethionine as HETATM: kept, unknown type
        _line(10, "N", "MSE", "B", 1, 8.0, 0.0, 0.0, "N", record="HETATM"),
        _line(11, "CA", "MSE", "B", 1, 9.4, 0.0, 0.0, "C", record="HETATM"),
        _line(12, "C", "MSE", "B", 1, 10.0, 1.4, 0.0, "C", record="HETATM"),
        # calcium ion named CA, a water, a ligand: removed
        _line(13, "CA", "CA", "B", 201, 20.0, 0.0, 0.0, "CA", record="HETATM"),
        _line(14, "O", "HOH", "B", 301, 25.0, 0.0, 0.0, "O", record="HETATM"),
        _line(15, "C1", "LIG", "B", 401, 30.0, 0.0, 0.0, "C", record="HETATM"),
        "END\n",
    ]
    path = tmp_path / "tricky.pdb"
    path.write_text("".join(lines))
    receptor = read_receptor(path)
    assert receptor.residue_ids == ["A:10", "A:10A", "B:1"]
    np.testing.assert_allclose(receptor.ca_pos[0], [1.5, 0.2, 0.0], atol=1e-4)
    assert receptor.residue_type.tolist() == [RESIDUE_TYPES.index("SER"), RESIDUE_TYPES.index("GLY"), UNKNOWN_RESIDUE]
    assert receptor.counts["polymer_residues_without_ca"] == 1
    assert receptor.counts["waters_removed"] == 1
    assert receptor.counts["het_groups_removed"] == 2
    assert receptor.chain_sequences() == {"A": "SG", "B": "X"}


def test_max_residues_is_refused_with_a_reason(example_protein):
    with pytest.raises(InputError, match="max_residues=50"):
        read_receptor(example_protein, max_residues=50)
