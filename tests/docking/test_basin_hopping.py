"""Basin hopping in the interaction energy (`disco dock --physics-guidance W --refine-rounds K`): it crosses
a barrier the local minimisation cannot, never returns a worse pose, reports exact energies, follows the
seed, and the receptor subset it runs on gives the same energy as the full receptor."""

import math

import pytest
import torch

from data_prep.torsions import rotatable_bonds
from docking.physics.basin_hopping import basin_hopping, mutations, refine_poses
from docking.physics.local_minimization import minimize_poses, posed
from docking.geometry.pose import rotate_by_rotvec

from tests.docking.test_interaction_energy import PROTEIN, crystal_energy, crystal_ligand


def flipped_crystal_poses() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The crystal ligand turned half-way round about two axes through its centroid: poses in the
    pocket whose minimisation ends in a wrong basin."""
    _, pos = crystal_energy()
    turns = torch.tensor([[torch.pi, 0.0, 0.0], [0.0, torch.pi, 0.0]], dtype=torch.float64)
    bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(crystal_ligand()))
    return rotate_by_rotvec(pos[None].repeat(2, 1, 1), turns), bonds, masks


def test_near_energy_equals_the_full_energy_inside_its_sphere():
    energy, pos = crystal_energy()
    center = pos.mean(0).float()
    extent = float((pos - pos.mean(0)).norm(dim=-1).max())
    near = energy.near(center, extent + 8.0)
    assert len(near.receptor.pos) < len(energy.receptor.pos)
    poses = torch.stack([pos, pos + torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)])
    assert torch.allclose(near(poses), energy(poses), atol=1e-4)
    assert not torch.allclose(energy.near(center, 6.0)(poses), energy(poses), atol=1e-2)


def test_basin_hopping_escapes_the_basin_a_minimisation_stops_in():
    energy, pos = crystal_energy()
    start, bonds, masks = flipped_crystal_poses()
    minimised, local = minimize_poses(energy, start, bonds, masks, steps=100)
    hopped, found = basin_hopping(energy, minimised, bonds, masks, rounds=40, minimize_steps=30,
                                  generator=torch.Generator().manual_seed(0))
    assert (found <= local + 1e-5).all()
    assert float(found.min()) < float(local.min()) - 0.5                  # a deeper basin than either start's
    assert torch.allclose(energy(hopped), found, atol=1e-4)
    again, _ = basin_hopping(energy, minimised, bonds, masks, rounds=40, minimize_steps=30,
                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(hopped, again)


def test_mutations_change_one_degree_of_freedom_each():
    """Each move changes one degree of freedom, and moves the ligand as Vina's do (measured on the moved
    atoms): a translation shifts every atom by one vector of at most 2 A, a rotation keeps the centroid and
    moves the atoms by at most 2 A RMS."""
    _, pos = crystal_energy()
    start = pos[None].repeat(64, 1, 1).float()
    bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(crystal_ligand()))
    translation, rotvec, torsion = mutations(start, bonds.shape[0], torch.Generator().manual_seed(1))
    moved = (translation.norm(dim=-1) > 0).int() + (rotvec.norm(dim=-1) > 0).int() + (torsion != 0).sum(-1)
    assert (moved <= 1).all() and (moved == 1).float().mean() > 0.9
    assert float(torsion.abs().max()) <= torch.pi
    shift = posed(start, translation, rotvec, torsion, bonds, masks) - start
    translated, rotated = translation.norm(dim=-1) > 0, rotvec.norm(dim=-1) > 0
    assert translated.any() and rotated.any()
    assert torch.allclose(shift[translated], shift[translated][:, :1].expand_as(shift[translated]), atol=1e-4)
    assert float(shift[translated].norm(dim=-1).max()) <= 2.0 + 1e-4
    assert float(shift[rotated].mean(1).norm(dim=-1).max()) < 1e-4
    assert float(shift[rotated].pow(2).sum(-1).mean(-1).sqrt().max()) <= 2.0 + 1e-4


class _Barrier:
    """A hand-built energy of a one-atom ligand's x coordinate: 0 for x <= 0, a plateau of height h for
    0 < x <= 2 A, a well of -10 beyond."""

    def __init__(self, height: float):
        self.height = height

    def __call__(self, pos: torch.Tensor) -> torch.Tensor:
        x = pos[:, 0, 0]
        return torch.where(x <= 0, torch.zeros_like(x),
                           torch.where(x <= 2.0, torch.full_like(x, self.height), torch.full_like(x, -10.0)))


def test_uphill_moves_are_accepted_by_the_metropolis_rule():
    """Chains of a one-atom ligand (a rotation leaves it in place, a translation moves it at most 2 A) start
    at x = 0 on the barrier energy, two rounds without minimisation. A chain reaches the well only by stepping
    onto the plateau in round 1 (uphill by h: accepted with probability exp(-h/T)) and into the well in
    round 2 (downhill: always accepted). The seeded draws do not depend on h, so the chains that reach the
    well at height h are those of h = 0 thinned by exp(-h/T): a binomial count, checked to 4 sigma."""
    temperature, chains = 0.8, 50_000
    start = torch.zeros(chains, 1, 3)
    bonds, masks = torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 1, dtype=torch.bool)

    def reached_well(height: float) -> int:
        _, best = basin_hopping(_Barrier(height), start, bonds, masks, rounds=2, minimize_steps=0,
                                generator=torch.Generator().manual_seed(0), temperature=temperature)
        assert (best <= 0).all()                    # never above the start's energy
        return int((best == -10.0).sum())

    flat = reached_well(0.0)
    assert flat > 500
    for height in (temperature, 2 * temperature):
        p = math.exp(-height / temperature)
        assert abs(reached_well(height) - flat * p) <= 4 * math.sqrt(flat * p * (1 - p)), height


def test_refine_poses_keeps_a_pose_unless_the_full_energy_is_lower():
    energy, pos = crystal_energy()
    start, bonds, masks = flipped_crystal_poses()
    minimised, local = minimize_poses(energy, start, bonds, masks, steps=100)
    crystal = minimize_poses(energy, pos[None], bonds, masks, steps=100)[0]
    poses = torch.cat([minimised, crystal]).float()
    energies = energy(poses)
    refined, refined_energies = refine_poses(energy, poses, energies, bonds, masks, pos.mean(0).float(), 15, 20,
                                             torch.Generator().manual_seed(2))
    assert (refined_energies <= energies + 1e-6).all()
    assert torch.allclose(energy(refined), refined_energies, atol=1e-4)    # exact, not the subset's
    unchanged = refined_energies == energies
    assert torch.equal(refined[unchanged], poses[unchanged])


def test_minimising_poses_together_equals_minimising_each_alone():
    """The search is one tensor program over all poses: a pose's trajectory does not depend on the others."""
    energy, _ = crystal_energy()
    start, bonds, masks = flipped_crystal_poses()
    together, together_energies = minimize_poses(energy, start, bonds, masks, steps=40)
    for i in range(start.shape[0]):
        alone, alone_energy = minimize_poses(energy, start[i:i + 1], bonds, masks, steps=40)
        assert torch.allclose(alone[0], together[i], atol=1e-4)
        assert float(alone_energy[0]) == pytest.approx(float(together_energies[i]), abs=1e-3)


def test_refine_rounds_needs_the_energy(tmp_path):
    """Basin hopping runs in the interaction energy: without guidance and with confidence ranking there is
    none to search in."""
    from disco_core.cli import main

    for extra in (["--physics-guidance", "0", "--rank-by", "confidence", "--refine-rounds", "5"],
                  ["--physics-guidance", "3", "--refine-rounds", "-1"]):
        with pytest.raises(SystemExit) as usage:
            main(["dock", "--protein", PROTEIN, "--ligand", "CCO", *extra, "--out", str(tmp_path)])
        assert usage.value.code == 2


def test_dock_cli_with_refinement_is_seeded_and_lowers_no_energy(tmp_path):
    """`disco dock --physics-guidance 3 --refine-rounds K`: same seed, same poses; every written pose's
    energy is at most the energy of the same run without refinement."""
    from rdkit import Chem

    from disco_core.cli import main

    from tests.docking.test_dock_cli import FAST, LIGAND

    def run(out: str, *extra: str) -> list[tuple[float, list]]:
        assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND,
                     "--physics-guidance", "3", "--rank-by", "energy", "--out", str(tmp_path / out), *extra, *FAST]) == 0
        poses = Chem.SDMolSupplier(str(tmp_path / out / "1s3v_ligand" / "poses.sdf"))
        return [(float(m.GetProp("interaction_energy")), m.GetConformer().GetPositions().tolist()) for m in poses]

    refined, again, plain = run("a", "--refine-rounds", "3"), run("b", "--refine-rounds", "3"), run("c")
    assert refined == again
    assert [e for e, _ in refined] == sorted(e for e, _ in refined)
    assert sum(e for e, _ in refined) <= sum(e for e, _ in plain) + 1e-3


def test_default_preset_is_guidance_refinement_and_energy_ranking(tmp_path):
    """`disco dock` without flags = --physics-guidance 3 --steps 60 --refine-rounds 30 --random-starts 30 --energy
    grid+pairwise --rank-by energy (--accurate names it), each overridable; --fast = no guidance, 8 steps, no
    random starts, the pairwise energy, minimised-energy ranking; --rescore vina ranks by Vina, --relax alone by
    confidence."""
    import argparse

    from rdkit import Chem

    from disco_core.cli import main
    from docking.dock_cli import _fill_presets

    from tests.docking.test_dock_cli import LIGAND, SMALL

    def filled(**given) -> tuple:
        args = argparse.Namespace(**{"fast": False, "physics_guidance": None, "steps": None, "refine_rounds": None,
                                     "rank_by": None, "energy": None, "refine_chains": None, "random_starts": None,
                                     "rescore": None, "relax": False, **given})
        _fill_presets(args)
        assert args.refine_chains == 1                     # every preset: one chain per pose
        starts[given.get("fast", False)] = (args.random_starts, args.energy)
        return args.physics_guidance, args.steps, args.refine_rounds, args.rank_by

    starts = {}
    assert filled() == (3.0, 30, 30, "energy")
    assert starts[False] == (30, "grid+pairwise")
    assert filled(steps=5) == (3.0, 5, 30, "energy")
    assert filled(fast=True) == (0.0, 8, 0, "energy")       # 8 steps: benchmarks/results/fast_steps_val
    assert starts[True] == (0, "pairwise")
    assert filled(rescore="vina")[3] == "vina" and filled(relax=True)[3] == "confidence"
    assert filled(physics_guidance=0.0, rank_by="confidence") == (0.0, 30, 0, "confidence")
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND,
                 "--refine-rounds", "2", "--out", str(out), *SMALL]) == 0
    poses = list(Chem.SDMolSupplier(str(out / "1s3v_ligand" / "poses.sdf")))
    energies = [float(m.GetProp("interaction_energy")) for m in poses]
    assert len(energies) == 3 and energies == sorted(energies)
    # the bundled pose confidence, not the constant calibration of the unguided confidence model
    confidences = [float(m.GetProp("confidence")) for m in poses]
    assert all(0 < c < 1 for c in confidences) and len(set(confidences)) == 3
    with pytest.raises(SystemExit) as usage:
        main(["dock", "--protein", PROTEIN, "--ligand", "CCO", "--accurate", "--fast", "--out", str(tmp_path)])
    assert usage.value.code == 2


def test_more_chains_per_pose_keep_each_pose_its_best_chain():
    """refine_poses with C chains per pose runs C independent chains from each start in one batch and keeps,
    for every pose, the lowest full energy among its chains (or its start, if none is lower): checked against
    the same chains rerun by hand as one basin-hopping batch of C x S starts."""
    energy, pos = crystal_energy()
    start, bonds, masks = flipped_crystal_poses()
    poses = minimize_poses(energy, start, bonds, masks, steps=60)[0].float()
    energies = energy(poses)
    center = pos.mean(0).float()
    chains = 3
    refined, refined_energies = refine_poses(energy, poses, energies, bonds, masks, center, 6, 15,
                                             torch.Generator().manual_seed(5), chains=chains)
    assert refined.shape == poses.shape
    assert torch.allclose(energy(refined), refined_energies, atol=1e-4)
    assert (refined_energies <= energies + 1e-6).all()
    # the same draws, chain by chain: chain c of pose s is row c * S + s of one basin-hopping batch
    from docking.physics.local_minimization import local_energy
    visited, _ = basin_hopping(local_energy(energy, poses, center), poses.repeat(chains, 1, 1), bonds, masks, 6, 15,
                               torch.Generator().manual_seed(5))
    per_chain = energy(visited.float()).reshape(chains, len(poses))
    expected = torch.minimum(per_chain.min(0).values, energies)
    assert torch.allclose(refined_energies, expected, atol=1e-4)
