"""Decoys for a pose scorer (docking.scoring.decoys, `disco train scorer-data`) on a shipped complex: labels,
energies and geometry checked against independent computations, the compact store, parts and resume, and the
refusal of val/test complexes."""

import numpy as np
import pytest
import torch
from rdkit import Chem

from data_prep.protein import read_heavy_atoms
from disco_core.cli import main
from docking.physics.interaction_energy import InteractionEnergy, receptor_atoms
from docking.scoring.decoys import (DecoySettings, build_part, complex_decoys, dataset_complexes, read_part,
                                    write_part)
from tests.data_paths import REPO

DATA = REPO / "tests" / "data" / "complexes"
SMALL = DecoySettings(perturbed=4, random_starts=4, minimise_steps=30)


@pytest.fixture(scope="module")
def decoys():
    return complex_decoys("1bju", DATA / "1bju" / "1bju_protein.pdb", DATA / "1bju" / "1bju_ligand.sdf", SMALL)


def _crystal():
    return Chem.MolFromMolFile(str(DATA / "1bju" / "1bju_ligand.sdf"))


def test_sources_and_shapes(decoys):
    crystal = _crystal()
    assert decoys.coords.shape == (9, crystal.GetNumAtoms(), 3)
    assert decoys.source.tolist() == [0] + [1] * 4 + [2] * 4


def test_labels_are_rmsds_to_the_crystal_pose(decoys):
    """Symmetry-corrected RMSD: never above the plain in-order RMSD (numpy here), equal where the plain one is
    small; the minimised crystal pose stays near native, random starts land far on average."""
    reference = _crystal().GetConformer().GetPositions()
    plain = np.sqrt(((decoys.coords - reference) ** 2).sum(-1).mean(-1))
    assert np.all(decoys.rmsd <= plain + 1e-4)
    assert decoys.rmsd[0] == pytest.approx(plain[0], abs=1e-4) and decoys.rmsd[0] < 1.0
    assert decoys.rmsd[decoys.source == 2].mean() > 2.0


def test_energies_are_the_pairwise_energy_of_the_stored_poses(decoys):
    crystal = _crystal()
    pos = torch.tensor(decoys.coords)
    atoms = receptor_atoms(read_heavy_atoms(DATA / "1bju" / "1bju_protein.pdb"), pos.mean((0, 1)).double(), 40.0)
    again = InteractionEnergy.for_ligand(crystal, atoms)(pos).numpy()
    assert decoys.energy == pytest.approx(again, abs=2e-3)
    assert decoys.energy[0] < -5.0            # the native pose binds (Vina-form energy, kcal/mol)


def test_poses_keep_the_crystal_ligands_bond_lengths(decoys):
    crystal = _crystal()
    pairs = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in crystal.GetBonds()])
    reference = crystal.GetConformer().GetPositions()
    lengths = np.linalg.norm(decoys.coords[:, pairs[:, 0]] - decoys.coords[:, pairs[:, 1]], axis=-1)
    assert lengths == pytest.approx(np.broadcast_to(np.linalg.norm(reference[pairs[:, 0]] - reference[pairs[:, 1]],
                                                                   axis=-1), lengths.shape), abs=2e-3)


def test_store_round_trip_in_float16(decoys, tmp_path):
    path = write_part(tmp_path / "p.npz", [decoys, decoys], {"9xyz": "protein file not found"})
    back, failures = read_part(path)
    assert [d.name for d in back] == ["1bju", "1bju"] and failures == {"9xyz": "protein file not found"}
    assert np.abs(back[1].coords - decoys.coords).max() < 0.02          # float16 steps within 30 A of the centroid
    assert back[1].rmsd.tolist() == decoys.rmsd.tolist() and back[1].source.tolist() == decoys.source.tolist()


def test_parts_interleave_resume_and_record_failures(tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("1bju\nnone\n1pxo\n")
    complexes = dataset_complexes(DATA, split)
    first = build_part(complexes, tmp_path / "out", 1, 2, DecoySettings(perturbed=1, random_starts=1, minimise_steps=5))
    made, failures = read_part(first)
    assert [d.name for d in made] == ["1bju", "1pxo"] and failures == {}
    stamp = first.stat().st_mtime_ns
    assert build_part(complexes, tmp_path / "out", 1, 2) == first and first.stat().st_mtime_ns == stamp   # kept
    second, failures = read_part(build_part(complexes, tmp_path / "out", 2, 2, SMALL))
    assert second == [] and failures == {"none": f"no folder {DATA / 'none'}"}


def test_val_and_test_complexes_are_refused(tmp_path, capsys):
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "test.txt").write_text("1pxo\n")
    dataset = tmp_path / "complexes"
    dataset.mkdir()
    split = tmp_path / "train.txt"
    split.write_text("1bju\n1pxo\n")
    with pytest.raises(SystemExit) as stop:
        main(["train", "scorer-data", "--dataset", str(dataset), "--split", str(split), "--out", str(tmp_path / "o")])
    assert stop.value.code == 2
    assert "1 val/test complex(es) (1pxo)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_poses_of_a_bench_run_become_a_part_once(tmp_path, capsys):
    """`scorer-data --from-run`: a run's written poses (here the crystal pose and a copy moved 3 A) labelled with
    their RMSD (0 and 3 A, by hand); an existing part is never overwritten."""
    crystal = _crystal()
    run = tmp_path / "run" / "disco"
    run.mkdir(parents=True)
    moved = Chem.Mol(crystal)
    conformer = moved.GetConformer()
    for i in range(moved.GetNumAtoms()):
        p = conformer.GetAtomPosition(i)
        conformer.SetAtomPosition(i, (p.x + 3.0, p.y, p.z))
    with Chem.SDWriter(str(run / "1bju.sdf")) as writer:
        for mol, energy in ((crystal, -9.0), (moved, -7.5)):
            mol.SetProp("interaction_energy", str(energy))
            writer.write(mol)
    split = tmp_path / "ids.txt"
    split.write_text("1bju\n1pxo\n")
    args = ["train", "scorer-data", "--dataset", str(DATA), "--split", str(split), "--from-run", str(tmp_path / "run"),
            "--out", str(tmp_path / "out")]
    assert main(args) == 0
    (decoys,), failures = read_part(tmp_path / "out" / "default_poses.npz")
    assert decoys.name == "1bju" and decoys.rmsd == pytest.approx([0.0, 3.0], abs=0.02)
    assert decoys.energy.tolist() == [-9.0, -7.5] and decoys.source.tolist() == [3, 3]
    assert list(failures) == ["1pxo"] and "no poses" in failures["1pxo"]
    with pytest.raises(SystemExit) as usage:
        main(args)
    assert usage.value.code == 2 and "exists" in capsys.readouterr().err
