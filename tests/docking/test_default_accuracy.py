"""Accuracy regression of `disco dock`'s default with the bundled model: on a vendored complex the model has
not been trained on (a val complex of ../shared/data, tests/data/regression/README.md), the rank-1 pose lies
within 2 A of the crystal pose. The ligand goes in as SMILES, so nothing of the crystal pose but the pocket
centre reaches the docking; the check is spyrmsd's symmetry-corrected RMSD against the crystal ligand."""

import pytest
from rdkit import Chem

from data_prep.pose_rmsd import symmetry_rmsd_of_mols
from disco_core.cli import main

from tests.conftest import REPO

COMPLEX = REPO / "tests" / "data" / "regression" / "1v2s"


@pytest.mark.slow
def test_default_docks_the_vendored_complex_within_2_A_at_rank_1(tmp_path):
    crystal = Chem.MolFromMolFile(str(COMPLEX / "1v2s_ligand.sdf"))
    out = tmp_path / "out"
    assert main(["dock", "--protein", str(COMPLEX / "1v2s_protein.pdb"), "--ligand", Chem.MolToSmiles(crystal),
                 "--name", "1v2s", "--autobox-ligand", str(COMPLEX / "1v2s_ligand.sdf"), "--out", str(out),
                 "--seed", "0", "--device", "cpu", "--no-progress"]) == 0
    poses = list(Chem.SDMolSupplier(str(out / "1v2s" / "poses.sdf")))
    assert len(poses) == 10
    rmsd = symmetry_rmsd_of_mols(crystal, poses)
    assert rmsd[0] < 2.0, f"rank-1 pose {rmsd[0]:.2f} A from the crystal pose (all: {rmsd.round(2).tolist()})"
    energies = [float(m.GetProp("interaction_energy")) for m in poses]
    assert energies == sorted(energies)
