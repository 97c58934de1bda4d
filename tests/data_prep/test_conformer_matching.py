import numpy as np

from data_prep.conformer_matching import align, aligned_rmsd, kabsch, match_conformer, rmsd
from data_prep.ligand import generate_conformer, read_ligand, read_ligand_file
from data_prep.torsions import apply_torsion_changes, rotatable_bonds
from tests.data_paths import VENDORED_INDEX, index_rows


def test_kabsch_recovers_a_rigid_motion():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    y = x @ q.T + np.array([1.0, -2.0, 3.0])
    rotation, translation = kabsch(x, y)
    np.testing.assert_allclose(rotation, q, atol=1e-8)
    assert rmsd(align(x, y), y) < 1e-8


def test_matching_recovers_known_torsions(example_ligand):
    mol = read_ligand(str(example_ligand)).mol
    conformer = generate_conformer(mol, seed=0).astype(np.float64)
    bonds, masks = rotatable_bonds(mol)
    rng = np.random.default_rng(5)
    target = apply_torsion_changes(conformer, bonds, masks, rng.uniform(-np.pi, np.pi, len(bonds)))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    target = target @ (q * np.sign(np.linalg.det(q))).T + 10.0
    result = match_conformer(conformer, target, bonds, masks)
    assert result.unmatched_rmsd > 0.5
    assert result.matched_rmsd < 0.05
    assert rmsd(result.matched_pos, target) < 0.05  # aligned onto the target frame


def test_matched_rmsd_is_at_most_unmatched_on_real_ligands():
    # the vendored ligands include the first 12 such rows of ../shared/data/index.csv, so this is the same set
    rows = [r for r in index_rows(VENDORED_INDEX) if 3 <= int(r["n_rotatable_bonds"]) <= 12][:12]
    assert len(rows) == 12
    matched, unmatched = [], []
    for row in rows:
        mol = read_ligand_file(row["ligand_path"]).mol
        crystal = mol.GetConformer().GetPositions()
        conformer = generate_conformer(mol, seed=0)
        bonds, masks = rotatable_bonds(mol)
        result = match_conformer(conformer, crystal, bonds, masks)
        assert result.matched_rmsd <= result.unmatched_rmsd + 1e-9, row["name"]
        assert abs(result.unmatched_rmsd - aligned_rmsd(conformer, crystal)) < 1e-6
        assert abs(rmsd(result.matched_pos, crystal) - result.matched_rmsd) < 1e-3
        # matching only turns torsions: every bond length stays the conformer's
        for bond in mol.GetBonds():
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            assert abs(np.linalg.norm(result.matched_pos[i] - result.matched_pos[j])
                       - np.linalg.norm(conformer[i] - conformer[j])) < 1e-3
        matched.append(result.matched_rmsd)
        unmatched.append(result.unmatched_rmsd)
    assert np.median(matched) < 1.0
    assert np.median(matched) < 0.6 * np.median(unmatched)
