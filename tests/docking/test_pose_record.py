"""One typed pose record: what the run writes on each pose is what the report and the API read back, by
RDKit, with hand-checked values."""

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from docking.inference.pipeline import DockResult
from docking.pose_record import PoseRecord, format_value, read_pose_records


def _mol() -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    return Chem.RemoveHs(mol)


def _result(n: int = 2, **extras) -> DockResult:
    return DockResult(name="apap", poses=[_mol() for _ in range(n)], confidences=[0.75, float("nan")][:n],
                      picks=[(3, 17), (0, 2)][:n], samples=[4, 1][:n], sites=["pocket", "pocket"][:n], seconds=1.0,
                      extras=extras)


def test_format_value_by_hand():
    assert format_value(-7.123456) == "-7.1235" and format_value(float("nan")) == "nan"
    assert format_value((3, 17)) == "3 17" and format_value(True) == "True" and format_value("a b") == "a b"


def test_written_properties_read_back_by_rdkit(tmp_path):
    from docking.runs.outputs import write_ligand_outputs

    result = _result(interaction_energy=[-9.87654, -8.5], pb_valid=[True, False])
    write_ligand_outputs(tmp_path, result)
    read = list(read_pose_records(tmp_path / "apap" / "poses.sdf"))
    assert [props for _, props in read] == [
        {"rank": "1", "confidence": "0.7500", "latent_picks": "3 17", "sample_index": "4", "site": "pocket",
         "interaction_energy": "-9.8765", "pb_valid": "True"},
        {"rank": "2", "confidence": "nan", "latent_picks": "0 2", "sample_index": "1", "site": "pocket",
         "interaction_energy": "-8.5000", "pb_valid": "False"}]
    # rank2.sdf holds the second pose alone, with its own record
    assert [props["rank"] for _, props in read_pose_records(tmp_path / "apap" / "rank2.sdf")] == ["2"]
    assert read[0][0].GetConformer().GetPositions() == pytest.approx(result.poses[0].GetConformer().GetPositions(),
                                                                      abs=1e-4)


def test_table_row_keeps_numbers():
    row = PoseRecord.of(_result(interaction_energy=[-9.5, -8.0]), 1).table_row()
    assert row["rank"] == 2 and row["interaction_energy"] == -8.0 and row["latent_picks"] == "0 2"
    assert row["sample_index"] == 1 and row["site"] == "pocket"


def test_a_result_refuses_an_extra_that_is_not_one_value_per_pose():
    with pytest.raises(ValueError, match="apap.*interaction_energy"):
        _result(interaction_energy=[-9.5])
    with pytest.raises(ValueError, match="note"):
        _result(note="not a list")


def test_an_unreadable_record_is_none_with_the_others_kept(tmp_path):
    good = Chem.MolToMolBlock(_mol())
    path = tmp_path / "poses.sdf"
    path.write_text(good + "> <rank>\n1\n\n$$$$\nbroken\n  no counts line\n\nM  END\n> <rank>\n2\n\n$$$$\n"
                    + good + "> <rank>\n3\n\n$$$$\n")
    read = list(read_pose_records(path))
    assert [mol is None for mol, _ in read] == [False, True, False]
    assert [props.get("rank") for _, props in read] == ["1", None, "3"]
