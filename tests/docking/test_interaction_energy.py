"""The Vina-form interaction energy: atom typing, its pose-space forces against finite differences,
that it prefers the crystal pose of the shipped complex to displaced ones, and physics-guided sampling."""

import dataclasses
import math

import pytest
import torch
from rdkit import Chem

from data_prep.protein import read_heavy_atoms
from docking.physics.interaction_energy import (InteractionEnergy, clipped_guidance, generalized_forces, ligand_atoms,
                                        receptor_atoms)
from docking.physics.guidance import PhysicsGuidance
from docking.geometry.pose import apply_torsion_changes, rotate_by_rotvec, translate
from docking.inference.guided_docking import dock_guided_complexes
from docking.model.complex_sampling import docking_input

from tests.docking.test_dock_cli import LIGAND, PROTEIN


def crystal_ligand() -> Chem.Mol:
    return Chem.RemoveHs(next(Chem.SDMolSupplier(LIGAND)))


def crystal_energy() -> tuple[InteractionEnergy, torch.Tensor]:
    mol = crystal_ligand()
    pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float64)
    return InteractionEnergy.for_ligand(mol, receptor_atoms(read_heavy_atoms(PROTEIN), pos.mean(0), 25.0)), pos


def bundled_models_and_item():
    """The bundled models and the shipped complex as a featurised item (ligand from its topology)."""
    from data_prep.featurize import FeaturizeOptions, featurize_ligand, prepare_receptor
    from data_prep.ligand import read_ligand
    from docking.inference.model_folder import load_model_folder

    models = load_model_folder(None, torch.device("cpu")).models
    item = featurize_ligand(read_ligand(LIGAND), FeaturizeOptions(seed=0), use_pose=False)
    item.update({k: v for k, v in prepare_receptor(PROTEIN).items() if k.startswith("rec_")})
    item["name"] = "1s3v"
    return models, item


def test_ligand_typing():
    mol = Chem.MolFromSmiles("CC(=O)NCc1ccncc1O")
    typed = ligand_atoms(mol)
    symbols = [a.GetSymbol() for a in mol.GetAtoms()]
    assert typed.hydrophobic[0] and not typed.hydrophobic[1]          # methyl yes, carbonyl carbon no
    assert typed.acceptor[2] and not typed.donor[2]                    # C=O
    assert typed.donor[3] and not typed.acceptor[3]                    # amide N-H
    ring_n = [i for i, s in enumerate(symbols) if s == "N"][1]
    assert typed.acceptor[ring_n] and not typed.donor[ring_n]          # pyridine N
    assert typed.donor[len(symbols) - 1] and typed.acceptor[len(symbols) - 1]   # phenol O-H
    assert float(typed.radius[2]) == pytest.approx(1.7) and float(typed.radius[0]) == pytest.approx(1.9)


def test_elements_without_parameters_get_the_documented_fallback_type():
    """B and Si (no X-Score radius): radius 1.9 A, steric only; a ligand zinc: radius 1.2 A, a donor."""
    mol = Chem.MolFromSmiles("OB(O)c1ccc([Si](C)(C)C)cc1")
    typed = ligand_atoms(mol)
    for symbol in ("B", "Si"):
        (i,) = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == symbol]
        assert float(typed.radius[i]) == pytest.approx(1.9)
        assert not (typed.hydrophobic[i] or typed.donor[i] or typed.acceptor[i])
    zinc = ligand_atoms(Chem.MolFromSmiles("[Zn+2]"))
    assert float(zinc.radius[0]) == pytest.approx(1.2) and zinc.donor[0] and not zinc.acceptor[0]


# What chemistry says about protein heavy atoms at pH 7, by (residue, PDB atom name); "*" any residue.
# (hydrophobic, donor, acceptor, X-Score radius): a backbone N carries an H (a donor; an amide N, no acceptor),
# proline's ring N carries none (three heavy neighbours: neither); a carbonyl O accepts; carbons bonded to N
# or O (CA, the carbonyl C) are not hydrophobic, side-chain carbons with only C neighbours are; hydroxyls
# both donate and accept; carboxylate O only accept; amide, amine, guanidinium and indole N only donate.
HAND_TYPED = {
    ("*", "N"): (False, True, False, 1.8), ("PRO", "N"): (False, False, False, 1.8),
    ("*", "O"): (False, False, True, 1.7), ("*", "C"): (False, False, False, 1.9),
    ("*", "CA"): (False, False, False, 1.9),
    ("LEU", "CD1"): (True, False, False, 1.9), ("VAL", "CG1"): (True, False, False, 1.9),
    ("PHE", "CZ"): (True, False, False, 1.9), ("ILE", "CD1"): (True, False, False, 1.9),
    ("SER", "OG"): (False, True, True, 1.7), ("THR", "OG1"): (False, True, True, 1.7),
    ("TYR", "OH"): (False, True, True, 1.7), ("ASP", "OD1"): (False, False, True, 1.7),
    ("GLU", "OE2"): (False, False, True, 1.7), ("LYS", "NZ"): (False, True, False, 1.8),
    ("ASN", "ND2"): (False, True, False, 1.8), ("ARG", "NH1"): (False, True, False, 1.8),
    ("TRP", "NE1"): (False, True, False, 1.8),
    # Vina's C_P is any carbon bonded to a heteroatom, sulfur included; S is neither donor nor acceptor (S_P);
    # a histidine without hydrogens in the file may be either tautomer: both ring N give and take
    ("MET", "CE"): (False, False, False, 1.9), ("MET", "SD"): (False, False, False, 2.0),
    ("MET", "CB"): (True, False, False, 1.9),
    ("HIS", "ND1"): (False, True, True, 1.8), ("HIS", "NE2"): (False, True, True, 1.8),
}


def pdb_atoms(path: str) -> list[tuple[str, str, tuple[float, float, float]]]:
    """(residue name, atom name, xyz) of every heavy ATOM/HETATM record, read from the file's columns."""
    atoms = []
    for line in open(path):
        if line.startswith(("ATOM", "HETATM")) and line[76:78].strip() != "H":
            atoms.append((line[17:20].strip(), line[12:16].strip(),
                          (float(line[30:38]), float(line[38:46]), float(line[46:54]))))
    return atoms


def test_receptor_typing_backbone_and_proline():
    """Each typed receptor atom against the type chemistry gives the PDB atom at its coordinates."""
    import numpy as np

    center = crystal_energy()[1].mean(0)
    atoms = receptor_atoms(read_heavy_atoms(PROTEIN), center, 25.0)
    records = pdb_atoms(PROTEIN)
    xyz = np.array([r[2] for r in records])
    inside = np.linalg.norm(xyz - center.numpy(), axis=1) <= 25.0
    assert len(atoms.pos) == int(inside.sum()) > 300              # exactly the file's atoms within 25 A
    seen = {}
    for k, pos in enumerate(atoms.pos.double().numpy()):
        distance = np.linalg.norm(xyz - pos, axis=1)
        residue, name, _ = records[int(distance.argmin())]
        assert distance.min() < 1e-3
        key = (residue, name) if (residue, name) in HAND_TYPED else ("*", name)
        if key not in HAND_TYPED:
            continue
        typed = (bool(atoms.hydrophobic[k]), bool(atoms.donor[k]), bool(atoms.acceptor[k]),
                 round(float(atoms.radius[k]), 3))
        assert typed == HAND_TYPED[key], (residue, name, typed)
        seen[key] = seen.get(key, 0) + 1
    # every hand-typed kind occurs in the sphere (so none of the checks above is vacuous)
    assert set(seen) == set(HAND_TYPED), set(HAND_TYPED) - set(seen)


def test_forces_match_finite_differences():
    energy, pos = crystal_energy()
    mol = crystal_ligand()
    from data_prep.torsions import rotatable_bonds

    bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(mol))
    assert bonds.shape[0] > 0
    # a pose a little off the crystal one, so that forces are not ~0
    pose = translate(rotate_by_rotvec(pos[None], torch.tensor([[0.1, -0.05, 0.08]], dtype=torch.float64)),
                     torch.tensor([[0.4, -0.3, 0.2]], dtype=torch.float64))
    f_tr, torque, f_tor, values = generalized_forces(energy, pose, bonds, masks)
    eps = 1e-3

    def e(p):
        return float(energy(p.float()).double())

    for axis in range(3):
        step = torch.zeros(1, 3, dtype=torch.float64)
        step[0, axis] = eps
        numeric = -(e(translate(pose, step)) - e(translate(pose, -step))) / (2 * eps)
        assert numeric == pytest.approx(float(f_tr[0, axis]), rel=0.05, abs=0.02)
        numeric = -(e(rotate_by_rotvec(pose, step)) - e(rotate_by_rotvec(pose, -step))) / (2 * eps)
        assert numeric == pytest.approx(float(torque[0, axis]), rel=0.05, abs=0.02)
    for r in range(bonds.shape[0]):
        angle = torch.zeros(1, bonds.shape[0], dtype=torch.float64)
        angle[0, r] = eps
        plus = apply_torsion_changes(pose, bonds, masks, angle, realign=False)
        minus = apply_torsion_changes(pose, bonds, masks, -angle, realign=False)
        numeric = -(e(plus) - e(minus)) / (2 * eps)
        assert numeric == pytest.approx(float(f_tor[0, r]), rel=0.05, abs=0.02)
    assert float(values[0]) == pytest.approx(e(pose), abs=1e-4)


def test_crystal_pose_beats_displaced_and_clashing_poses():
    energy, pos = crystal_energy()
    crystal = float(energy(pos[None])[0])
    assert crystal < -3.0                          # favourable contacts in the real complex
    for shift in ([3.0, 0, 0], [0, -3.0, 0], [0, 0, 3.0], [6.0, 6.0, 0]):
        moved = translate(pos[None], torch.tensor([shift], dtype=torch.float64))
        assert float(energy(moved)[0]) > crystal
    receptor = energy.receptor.pos.double()
    nearest = receptor[(receptor - pos.mean(0)).norm(dim=1).argmin()]
    buried = pos[None] - pos.mean(0) + nearest          # centroid on a protein atom: a clash
    assert float(energy(buried)[0]) > 10.0


def test_clipped_guidance_caps_the_score():
    force = torch.tensor([[300.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    score = clipped_guidance(force, 2.0, sigma=1.0, dims=3)
    assert float(score[0].norm()) == pytest.approx(math.sqrt(3))
    assert torch.allclose(score[1], torch.tensor([0.2, 0.0, 0.0]))


def test_physics_guided_sampling_is_seeded_and_lowers_the_energy():
    models, item = bundled_models_and_item()
    energy, pos = crystal_energy()

    def run(weight: float) -> torch.Tensor:
        docking = docking_input(models, item, torch.Generator().manual_seed(3), pos.mean(0).float())
        physics = PhysicsGuidance(weight=weight, minimize_steps=0, resample_at=()) if weight > 0 else None
        return dock_guided_complexes(models, [docking], [energy], physics, num_samples=8)[0].poses

    plain, guided, again = run(0.0), run(3.0), run(3.0)
    assert torch.equal(guided, again)
    assert not torch.allclose(plain, guided)
    assert float(energy(guided.double()).mean()) < float(energy(plain.double()).mean())


def test_dock_cli_physics_guidance_ranks_by_energy(tmp_path):
    import csv

    from disco_core.cli import main

    from tests.docking.test_dock_cli import FAST

    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--physics-guidance", "3", "--rank-by", "energy", *FAST]) == 0
    row = next(csv.DictReader((out / "summary.csv").open()))
    poses = list(Chem.SDMolSupplier(str(out / "1s3v_ligand" / "poses.sdf")))
    energies = [float(m.GetProp("interaction_energy")) for m in poses]
    assert energies == sorted(energies) and len(energies) == 3
    assert float(row["interaction_energy"]) == pytest.approx(energies[0])
    # each written pose's properties are the energy of the pose in the file and its receptor-ligand part
    energy, _ = crystal_energy()
    for mol in poses:
        pos = torch.tensor(mol.GetConformer().GetPositions())[None]
        assert float(energy(pos)[0]) == pytest.approx(float(mol.GetProp("interaction_energy")), abs=0.05)
        assert float(energy.intermolecular(pos)[0]) == pytest.approx(float(mol.GetProp("intermolecular_energy")),
                                                                      abs=0.05)


def test_dock_cli_rank_by_intermolecular_reorders_the_same_poses(tmp_path):
    """--rank-by intermolecular (Vina's convention: the receptor-ligand part alone) writes the same poses as
    --rank-by energy for the same seed, ordered by the intermolecular energy of the coordinates in the file."""
    from disco_core.cli import main

    from tests.docking.test_dock_cli import FAST

    def written(ranking: str) -> list[Chem.Mol]:
        out = tmp_path / ranking
        assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                     "--physics-guidance", "3", "--rank-by", ranking, *FAST]) == 0
        return list(Chem.SDMolSupplier(str(out / "1s3v_ligand" / "poses.sdf")))

    by_energy, by_inter = written("energy"), written("intermolecular")
    energy, _ = crystal_energy()
    inter = [float(energy.intermolecular(torch.tensor(m.GetConformer().GetPositions())[None])[0]) for m in by_inter]
    assert all(a <= b + 0.05 for a, b in zip(inter, inter[1:]))      # 0.05: the written coordinates' rounding
    assert [float(m.GetProp("intermolecular_energy")) for m in by_inter] == sorted(
        float(m.GetProp("intermolecular_energy")) for m in by_inter)
    key = lambda m: tuple(round(v, 3) for v in m.GetConformer().GetPositions().ravel())   # noqa: E731
    assert sorted(map(key, by_energy)) == sorted(map(key, by_inter))


def test_fast_preset_is_the_unguided_sampler_then_minimisation():
    """--fast's physics (no guidance, no resampling) leaves the learned sampler's poses as they are: with the
    minimisation off they equal the unguided run's poses sample for sample; with it on each pose's energy is
    at most its sample's and the ranking follows the energy."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.inference.given_sites import Pocket
    from docking.request.presets import physics_for

    center = Pocket(tuple(float(v) for v in crystal_energy()[1].mean(0)))
    energy = crystal_energy()[0]

    def by_sample(result) -> tuple[torch.Tensor, list[int]]:
        order = sorted(range(len(result.samples)), key=lambda i: result.samples[i])
        return (torch.stack([torch.tensor(result.poses[i].GetConformer().GetPositions()) for i in order]),
                [result.samples[i] for i in order])

    def dock(physics) -> object:
        options = DockOptions(samples=4, steps=6, device="cpu", physics=physics,
                              rank_by="energy" if physics is not None else "confidence")
        return DockingPipeline(options).dock(PROTEIN, LIGAND, name="crystal", pocket=center)

    fast = physics_for(0.0, 0, "energy")
    assert fast.weight == 0 and fast.resample_at == () and fast.minimize_steps > 0
    plain, _ = by_sample(dock(None))
    unminimised, samples = by_sample(dock(dataclasses.replace(fast, minimize_steps=0)))
    assert samples == [0, 1, 2, 3]
    assert torch.allclose(unminimised, plain, atol=1e-5)
    minimised = dock(fast)
    energies = minimised.extras["interaction_energy"]
    assert energies == sorted(energies)
    poses, _ = by_sample(minimised)
    assert (energy(poses) <= energy(plain) + 1e-3).all()


def test_local_minimisation_brings_displaced_crystal_poses_back():
    from data_prep.torsions import rotatable_bonds
    from docking.physics.local_minimization import minimize_poses

    energy, pos = crystal_energy()
    bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(crystal_ligand()))
    shifts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, 0.0]], dtype=torch.float64)
    start = translate(pos[None].repeat(3, 1, 1), shifts)
    minimised, energies = minimize_poses(energy, start, bonds, masks, steps=100)
    assert (energies <= energy(start) + 1e-5).all()
    assert float(energies.max()) < float(energy(pos[None])[0])            # all reach the crystal basin's floor
    assert float(((minimised - pos) ** 2).sum(-1).mean(-1).sqrt().max()) < 0.8
    assert torch.allclose(energy(minimised), energies, atol=1e-4)


def test_resampling_follows_the_energies_and_the_seed():
    from docking.physics.guidance import resample_indices

    energies = torch.tensor([0.0, -20.0, 0.0, 0.0])
    assert resample_indices(energies, 1.0, torch.Generator().manual_seed(0)).tolist() == [1, 1, 1, 1]
    flat = resample_indices(torch.zeros(4), 1.0, torch.Generator().manual_seed(0))
    assert flat.tolist() == [0, 1, 2, 3]
    mixed = torch.tensor([-1.0, -1.5, 3.0, -0.5])
    a = resample_indices(mixed, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a, resample_indices(mixed, 1.0, torch.Generator().manual_seed(5)))
    assert 2 not in a.tolist() and a.tolist() == sorted(a.tolist())
    assert PhysicsGuidance(resample_at=(0.5,)).resample_steps(10) == {4}


def test_resampled_guided_docking_keeps_picks_with_their_poses():
    """With resampling, each pose's latent picks travel with it: same seed, same (poses, picks)."""
    models, item = bundled_models_and_item()
    energy, pos = crystal_energy()
    physics = PhysicsGuidance(weight=3.0, minimize_steps=20, resample_at=(0.5, 0.3), resample_strength=5.0,
                              preview_steps=10)

    def run():
        docking = docking_input(models, item, torch.Generator().manual_seed(1), pos.mean(0).float())
        return dock_guided_complexes(models, [docking], [energy], physics, num_samples=6)[0]

    first, again = run(), run()
    assert torch.equal(first.poses, again.poses) and torch.equal(first.picks, again.picks)
    assert torch.allclose(first.energies, energy(first.poses), atol=1e-4)


def test_guided_docking_batched_equals_one_by_one():
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.inference.given_sites import Pocket

    physics = PhysicsGuidance(weight=3.0, minimize_steps=10, resample_at=(0.5,), preview_steps=5)
    pipeline = DockingPipeline(DockOptions(samples=3, steps=6, device="cpu", physics=physics))
    center = tuple(float(v) for v in crystal_energy()[1].mean(0))
    together = pipeline.dock_many(PROTEIN, [("small", "CC(=O)Nc1ccc(O)cc1"), ("crystal", LIGAND)], Pocket(center))
    alone = pipeline.dock(PROTEIN, LIGAND, name="crystal", pocket_center=center)
    # float32 rounding of the score model differs with the batch's size (~2e-5 A on the unguided poses);
    # the energy's steep repulsion amplifies it along the guided trajectory to a few hundredths of an A
    for batched, single in zip(together[1].poses, alone.poses):
        assert torch.allclose(torch.tensor(batched.GetConformer().GetPositions()),
                              torch.tensor(single.GetConformer().GetPositions()), atol=6e-2)
    assert together[1].extras["interaction_energy"] == pytest.approx(alone.extras["interaction_energy"], rel=1e-2, abs=5e-2)


def test_rank_by_energy_refuses_moved_poses(tmp_path):
    from disco_core.cli import main

    for extra in (["--rescore", "vina"], ["--relax"]):
        with pytest.raises(SystemExit) as usage:
            main(["dock", "--protein", PROTEIN, "--ligand", "CCO", "--physics-guidance", "3", "--rank-by", "energy",
                  *extra, "--out", str(tmp_path)])
        assert usage.value.code == 2


def test_energy_of_a_pose_vina_moved_is_named_as_the_sampled_one(tmp_path):
    """With --rescore vina the written pose is Vina's, so the guidance energy is kept as the sampled pose's."""
    from disco_core.cli import main

    from tests.docking.test_dock_cli import FAST

    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--physics-guidance", "3", "--rescore", "vina", "--rank-by", "vina", *FAST]) == 0
    for mol in Chem.SDMolSupplier(str(out / "1s3v_ligand" / "poses.sdf")):
        assert mol.HasProp("sampled_interaction_energy") and not mol.HasProp("interaction_energy")
        assert mol.HasProp("vina_score_kcal_mol")


def test_pair_energy_slope_is_the_derivative_of_pair_energy():
    """The analytic slope the internal energy uses against autograd of the reference pair_energy, across
    every term's range (repulsion, both gaussians, hydrophobic and h-bond ramps, the cutoff's fade)."""
    from docking.physics.interaction_energy import pair_energy, pair_energy_and_slope

    distance = torch.linspace(0.3, 8.5, 40_003, dtype=torch.float64).requires_grad_(True)
    for hydrophobic, hbond in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]:
        flags = (torch.tensor(3.6, dtype=torch.float64), torch.tensor(hydrophobic, dtype=torch.float64),
                 torch.tensor(hbond, dtype=torch.float64))
        reference = pair_energy(distance, *flags)
        (slope,) = torch.autograd.grad(reference.sum(), distance)
        energy, analytic = pair_energy_and_slope(distance.detach(), *flags)
        assert torch.allclose(energy, reference.detach(), atol=1e-12)
        assert torch.allclose(analytic, slope, atol=1e-12)
