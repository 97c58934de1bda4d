"""The per-pose physics features (docking.scoring.pose_physics) against hand-built cases, and the linear ranker
(docking.scoring.pose_ranker) against finite differences and a planted order."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem
from scipy.spatial.transform import Rotation

from data_prep.protein import HeavyAtoms
from docking.scoring.pose_physics import FEATURES, LigandStrain, ligand_charges, physics_features
from docking.scoring.pose_ranker import PoseGroup, _objective, fit_ranker, top1_near_native


@pytest.mark.parametrize("smiles, expected", [
    ("CC(=O)O", {2: -1, 3: -1}),                 # acetic acid: both carboxyl O
    ("CC(=O)[O-]", {2: -1, 3: -1}),
    ("CCN", {2: 1}),                             # ethylamine
    ("CC[NH3+]", {2: 1}),
    ("CC(=O)N", {}),                             # amide N is not basic
    ("c1ccccc1N", {}),                           # aniline
    ("NC(=N)c1ccccc1", {0: 1, 2: 1}),            # benzamidine
    ("c1ccccc1[N+](=O)[O-]", {}),                # nitro: neutral group
    ("OP(=O)(O)O", {0: -1, 2: -1, 3: -1, 4: -1}),  # phosphate: every oxygen
    ("CN(C)C", {1: 1}),                          # trimethylamine
    ("CS(=O)(=O)N", {}),                         # sulfonamide N
])
def test_ligand_charges_by_hand(smiles: str, expected: dict[int, int]):
    mol = Chem.MolFromSmiles(smiles)
    charges = ligand_charges(mol)
    assert {i: int(c) for i, c in enumerate(charges) if c} == expected


def _receptor(atoms: list[tuple[str, str, str, tuple[float, float, float]]]) -> HeavyAtoms:
    return HeavyAtoms([a[0] for a in atoms], [a[1] for a in atoms], [a[2] for a in atoms],
                      np.array([a[3] for a in atoms], dtype=float))


def _posed(smiles: str, seed: int = 7) -> Chem.Mol:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=seed)
    AllChem.MMFFOptimizeMolecule(mol)
    return Chem.RemoveHs(mol)


def _features(mol: Chem.Mol, receptor: HeavyAtoms, coords: np.ndarray | None = None) -> dict[str, float]:
    coords = mol.GetConformer().GetPositions() if coords is None else coords
    return dict(zip(FEATURES, physics_features(mol, coords[None], receptor)[0]))


def test_salt_bridge_and_like_charge_by_distance():
    mol = _posed("CN")                                     # methylamine: N is cationic
    n = mol.GetConformer().GetPositions()[1]
    away = n + np.array([0.0, 0.0, 3.2])
    asp = _receptor([("O", "ASP", "OD1", tuple(away))])
    lys = _receptor([("N", "LYS", "NZ", tuple(away))])
    far = _receptor([("O", "ASP", "OD1", tuple(n + np.array([0.0, 0.0, 4.5])))])
    assert _features(mol, asp)["salt_bridges"] == 1 and _features(mol, asp)["like_charges"] == 0
    assert _features(mol, lys)["like_charges"] == 1 and _features(mol, lys)["salt_bridges"] == 0
    assert _features(mol, far)["salt_bridges"] == 0         # 4.5 A > CHARGE_A
    serine = _receptor([("O", "SER", "OG", tuple(away))])   # an uncharged O
    assert _features(mol, serine)["salt_bridges"] == 0


def test_buried_polar_atom_without_partner_counts_once():
    mol = _posed("CO")                                     # methanol: O is donor and acceptor
    o = mol.GetConformer().GetPositions()[1]
    shell = [("C", "LEU", "CD1", tuple(o + 4.0 * d)) for d in
             np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1],
                       [0.577, 0.577, 0.577], [-0.577, -0.577, 0.577]])]
    assert _features(mol, _receptor(shell))["buried_unsatisfied"] == 1
    assert _features(mol, _receptor(shell[:7]))["buried_unsatisfied"] == 0       # 7 neighbours: not buried
    with_partner = shell + [("O", "SER", "OG", tuple(o + np.array([1.7, 1.7, -1.7])))]   # 2.94 A
    assert _features(mol, _receptor(with_partner))["buried_unsatisfied"] == 0
    exposed = _features(mol, _receptor([("C", "LEU", "CD1", (50.0, 50.0, 50.0))]))
    assert exposed["exposed_share"] == 1.0


def test_strain_is_zero_at_a_minimum_and_large_for_a_clashing_torsion():
    mol = _posed("CCCCCC")
    strain = LigandStrain(mol)
    relaxed = mol.GetConformer().GetPositions()
    assert strain(relaxed[None])[0] < 0.5
    # hexane with C1 folded back onto C4: rotate C1 about C2-C3 until it clashes
    twisted = Chem.Mol(mol)
    from rdkit.Chem import rdMolTransforms
    conformer = twisted.GetConformer()
    rdMolTransforms.SetDihedralDeg(conformer, 0, 1, 2, 3, 0.0)      # eclipsed
    rdMolTransforms.SetDihedralDeg(conformer, 1, 2, 3, 4, 0.0)
    assert strain(conformer.GetPositions()[None])[0] > 3.0


def test_features_do_not_change_when_the_complex_is_rotated_and_moved():
    mol = _posed("NCC(=O)O")
    rng = np.random.default_rng(0)
    ligand = mol.GetConformer().GetPositions()
    pocket = [("C", "LEU", "CD1", tuple(p)) for p in ligand.mean(0) + rng.normal(0, 4.0, (30, 3))]
    pocket += [("O", "ASP", "OD2", tuple(ligand[0] + [0, 3.0, 0])), ("N", "LYS", "NZ", tuple(ligand[3] + [3.0, 0, 0]))]
    poses = ligand[None] + rng.normal(0, 0.3, (4, 1, 3))
    receptor = _receptor(pocket)
    rotation = Rotation.from_rotvec([0.4, -1.1, 2.0])
    shift = np.array([12.0, -7.0, 3.0])
    moved = _receptor([(e, r, a, tuple(rotation.apply(np.array(p)) + shift)) for e, r, a, p in pocket])
    before = physics_features(mol, poses, receptor)
    after = physics_features(mol, rotation.apply(poses.reshape(-1, 3)).reshape(poses.shape) + shift, moved)
    strain = FEATURES.index("strain")
    others = [k for k in range(len(FEATURES)) if k != strain]
    np.testing.assert_allclose(after[:, others], before[:, others], atol=2e-3)
    # hydrogens are placed from the frame (RDKit's AddHs), so the MMFF relaxations may end in nearby minima
    np.testing.assert_allclose(after[:, strain], before[:, strain], atol=1.0)


def test_ranker_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    groups = [(rng.normal(size=(6, 4)), np.array([True, False, True, False, False, False])) for _ in range(5)]
    w = rng.normal(size=4)
    _, grad = _objective(w, groups, 0.1)
    numeric = np.array([(_objective(w + e, groups, 0.1)[0] - _objective(w - e, groups, 0.1)[0]) / 2e-6
                        for e in np.eye(4) * 1e-6])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_ranker_learns_a_planted_order_and_generalises():
    """Near-native poses have a higher value of feature 0 (noise elsewhere); a held-out set is ranked right."""
    rng = np.random.default_rng(2)

    def groups(count):
        out = []
        for k in range(count):
            features = rng.normal(size=(10, 3))
            rmsd = rng.uniform(3, 8, 10)
            right = rng.integers(10)
            rmsd[right] = 1.0
            features[right, 0] += 3.0
            out.append(PoseGroup(f"c{k}", features, rmsd))
        return out

    ranker = fit_ranker(groups(60), ("signal", "noise1", "noise2"))
    assert ranker.weights[0] > 3 * np.abs(ranker.weights[1:]).max()
    held_out = groups(40)
    assert sum(top1_near_native(ranker, g) for g in held_out) >= 34      # a random pick finds ~4


def test_ranker_ties_keep_the_default_order():
    group = PoseGroup("tie", np.zeros((4, 2)), np.array([5.0, 1.0, 1.0, 5.0]), np.array([2, 0, 1, 3]))
    ranker = fit_ranker([group], ("a", "b"))
    assert list(ranker.order(group.features, group.default_rank)) == [1, 2, 0, 3]
