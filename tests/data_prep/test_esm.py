import shutil

import pytest
import torch

from data_prep.cache import load_item
from data_prep.esm import load_esm_embeddings, write_esm_embeddings
from disco_core.cli import main

from .conftest import EXAMPLE

import esm  # noqa: E402  (fair-esm is in the `test` extra: missing, the module fails)


@pytest.fixture
def tiny_esm2_weights(tmp_path):
    """A randomly initialised 2-layer ESM2 (no download), saved in the weights_only form."""
    from data_prep.esm import save_esm2

    torch.manual_seed(0)
    model = esm.model.esm2.ESM2(num_layers=2, embed_dim=32, attention_heads=4, alphabet="ESM-1b")
    path = tmp_path / "tiny_esm2.pt"
    save_esm2(model, path)
    return path


def test_esm_embeddings_end_to_end_and_mismatch(tiny_esm2_weights, tmp_path, capsys):
    root = tmp_path / "pdbbind"
    shutil.copytree(EXAMPLE, root / "1s3v")
    embeddings = tmp_path / "esm.pt"
    assert main(["prep", "esm", "--pdbbind", str(root), "--weights", str(tiny_esm2_weights),
                 "--out", str(embeddings)]) == 0
    table = load_esm_embeddings(embeddings)
    assert table["embeddings"]["1s3v:A"].shape == (186, 32)

    out = tmp_path / "cache"
    assert main(["prep", "--pdbbind", str(root), "--out", str(out), "--esm-embeddings", str(embeddings),
                 "--no-progress"]) == 0
    item = load_item(out / "items" / "1s3v.pt")
    assert item["rec_esm"].shape == (186, 32)
    assert torch.allclose(item["rec_esm"], table["embeddings"]["1s3v:A"])

    table["embeddings"]["1s3v:A"] = table["embeddings"]["1s3v:A"][:-1]  # one residue short
    short = tmp_path / "short.pt"
    write_esm_embeddings(table, short)
    bad_out = tmp_path / "cache_bad"
    assert main(["prep", "--pdbbind", str(root), "--out", str(bad_out), "--esm-embeddings", str(short),
                 "--no-progress"]) == 1
    failure = (bad_out / "failures.csv").read_text()
    assert "chain A" in failure and "185 rows" in failure and "186 residues" in failure and ",esm," in failure


def test_missing_weights_is_a_clear_error(tmp_path, capsys):
    assert main(["prep", "esm", "--protein", str(EXAMPLE / "1s3v_protein.pdb"), "--ligand", "C",
                 "--weights", str(tmp_path / "none.pt"), "--out", str(tmp_path / "e.pt")]) == 1
    assert "nothing is downloaded" in capsys.readouterr().err
