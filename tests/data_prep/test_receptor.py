"""`load_receptor`: one read of the protein file gives the graph's residue features and the heavy atoms,
the same as the separate readers (`prepare_receptor`, `read_heavy_atoms`) give."""

import weakref

import gemmi
import numpy as np
import pytest
import torch

from data_prep.featurize import prepare_receptor
from data_prep.protein import read_heavy_atoms
from data_prep.receptor import load_receptor
from disco_core.errors import InputError


def test_load_receptor_reads_the_file_once(example_protein, monkeypatch):
    calls = []
    read_structure = gemmi.read_structure

    def counting(*args, **kwargs):
        calls.append(args)
        return read_structure(*args, **kwargs)

    monkeypatch.setattr(gemmi, "read_structure", counting)
    receptor = load_receptor(example_protein)
    assert len(calls) == 1
    assert receptor.path == str(example_protein)


def test_load_receptor_equals_the_separate_readers(example_protein):
    receptor = load_receptor(example_protein)
    features, atoms = prepare_receptor(example_protein), read_heavy_atoms(example_protein)

    assert receptor.features.keys() == features.keys()
    for key, expected in features.items():
        if isinstance(expected, torch.Tensor):
            assert receptor.features[key].dtype == expected.dtype and torch.equal(receptor.features[key], expected), key
        else:
            assert receptor.features[key] == expected, key
    assert receptor.num_residues == 186 and receptor.residue_ids == features["rec_residue_ids"]
    np.testing.assert_array_equal(receptor.ca_pos, features["rec_pos"].numpy())

    assert receptor.heavy_atoms.elements == atoms.elements
    assert receptor.heavy_atoms.residue_names == atoms.residue_names
    assert receptor.heavy_atoms.atom_names == atoms.atom_names
    assert receptor.heavy_atoms.pos.dtype == atoms.pos.dtype == np.float64
    np.testing.assert_array_equal(receptor.heavy_atoms.pos, atoms.pos)


def test_receptor_is_a_cache_key_by_identity(example_protein):
    first, second = load_receptor(example_protein), load_receptor(example_protein)
    sites = weakref.WeakKeyDictionary({first: "first"})
    assert first in sites and second not in sites


def test_load_receptor_errors_name_the_file(example_protein, tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_receptor(tmp_path / "missing.pdb")
    with pytest.raises(InputError, match="max_residues=50"):
        load_receptor(example_protein, max_residues=50)
