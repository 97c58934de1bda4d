import shutil

import pytest
import torch
from torch_geometric.loader import DataLoader

from data_prep.featurize import featurize_pair, prepare_receptor
from data_prep.ligand_features import LIGAND_ATOM_FEATURE_DIMS
from data_prep.cache import load_item
from data_prep.dataset import ComplexDataset, item_to_heterodata, rotation_masks_per_graph
from disco_core.cli import main

from .conftest import EXAMPLE

FORMAT_KEYS = {"name", "source", "format_version", "ligand_smiles", "ligand_molblock", "lig_atom_features",
               "lig_bond_index", "lig_bond_features", "lig_pos_conformer", "lig_pos_matched", "lig_pos_crystal",
               "matched_rmsd", "unmatched_rmsd", "rot_bonds", "rot_masks", "rec_residue_type", "rec_pos",
               "rec_n_pos", "rec_c_pos", "rec_residue_ids", "pocket_center"}


@pytest.fixture
def pdbbind_dir(tmp_path):
    root = tmp_path / "pdbbind"
    shutil.copytree(EXAMPLE, root / "1s3v")
    (root / "nolig").mkdir()
    shutil.copy(EXAMPLE / "1s3v_protein.pdb", root / "nolig" / "nolig_protein.pdb")
    return root


def test_pdbbind_cache_format_resume_and_failures(pdbbind_dir, tmp_path, capsys):
    out = tmp_path / "cache"
    assert main(["prep", "--pdbbind", str(pdbbind_dir), "--out", str(out), "--no-progress"]) == 0
    item = load_item(out / "items" / "1s3v.pt")  # weights_only=True
    assert FORMAT_KEYS <= set(item)
    n = item["lig_atom_features"].shape[0]
    assert item["lig_atom_features"].dtype == torch.long and item["lig_atom_features"].shape[1] == len(LIGAND_ATOM_FEATURE_DIMS)
    for key in ("lig_pos_conformer", "lig_pos_matched", "lig_pos_crystal", "rec_pos"):
        assert item[key].dtype == torch.float32 and item[key].shape[-1] == 3
    assert item["rot_masks"].dtype == torch.bool and item["rot_masks"].shape == (item["rot_bonds"].shape[0], n)
    assert torch.allclose(item["lig_pos_conformer"].mean(0), torch.zeros(3), atol=1e-4)
    assert item["matched_rmsd"] <= item["unmatched_rmsd"]
    assert item["rec_residue_type"].shape == (186,) and item["rec_residue_ids"][0] == "A:1"
    failures = (out / "failures.csv").read_text().splitlines()
    assert len(failures) == 2 and failures[1].startswith("nolig,input,") and "no nolig_ligand.sdf" in failures[1]
    assert "nolig failed at input" in capsys.readouterr().err
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_ok"] == 1 and summary["n_failed"] == 1 and summary["median_matched_rmsd"] is not None
    stamp = (out / "items" / "1s3v.pt").stat().st_mtime_ns
    # resumable: the rerun reuses the item
    assert main(["prep", "--pdbbind", str(pdbbind_dir), "--out", str(out), "--no-progress"]) == 0
    assert (out / "items" / "1s3v.pt").stat().st_mtime_ns == stamp
    assert json.loads((out / "summary.json").read_text())["n_already_cached"] == 1
    # other options on the same cache are refused
    assert main(["prep", "--pdbbind", str(pdbbind_dir), "--out", str(out), "--seed", "4", "--no-progress"]) == 1

    dataset = ComplexDataset(out)
    assert len(dataset) == 1
    batch = next(iter(DataLoader([dataset[0], dataset[0]], batch_size=2)))
    assert batch.num_graphs == 2 and batch["ligand"].pos.shape == (2 * n, 3)
    rot = batch["ligand", "rot", "ligand"].edge_index
    assert rot[:, rot.shape[1] // 2:].min() >= n  # second graph's bond atoms are offset
    masks = rotation_masks_per_graph(batch)
    assert len(masks) == 2 and torch.equal(masks[1], item["rot_masks"])
    assert batch["receptor"].side_vectors.shape == (2 * 186, 2, 3)
    assert batch["receptor", "near", "receptor"].edge_index.shape[0] == 2
    assert batch.pocket_center.shape == (2, 3)


def test_single_pair_and_usage_errors(example_protein, example_ligand, tmp_path):
    out = tmp_path / "single"
    assert main(["prep", "--protein", str(example_protein), "--ligand", str(example_ligand), "--out", str(out),
                 "--name", "one", "--no-progress"]) == 0
    assert (out / "items" / "one.pt").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["prep", "--out", str(out)])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["prep", "--protein", str(example_protein), "--out", str(out)])
    assert exc.value.code == 2


def test_in_memory_featurisation_with_a_reused_receptor(example_protein):
    receptor = prepare_receptor(example_protein)
    from_smiles = featurize_pair(receptor, "COc1cc(N(C)C)cc(OC)c1OC", name="smiles")
    assert "lig_pos_matched" not in from_smiles and "pocket_center" not in from_smiles
    assert from_smiles["rec_pos"] is receptor["rec_pos"]
    data = item_to_heterodata(from_smiles, pose="conformer")
    assert torch.isnan(data.pocket_center).all()
    with pytest.raises(Exception, match="no matched pose"):
        item_to_heterodata(from_smiles, pose="matched")
