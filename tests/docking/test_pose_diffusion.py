"""Forward noising targets and the reverse sampler with exact scores of known target distributions."""

import math

import pytest
import torch
from scipy import stats

from docking.geometry import pose as P
from docking.model import torus
from docking.model.noise_schedule import GeometricSchedule, PoseNoiseSchedule
from docking.model.sampler import ComposedScore, Ligand, SamplerSettings, sample_initial_poses, sample_poses
from docking.model.pose_noise import noise_pose, score_matching_loss
from docking.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from docking.model.so3 import igso3_table
from tests.docking.ligands import bond_and_angle_triples, bond_lengths_and_angles, ligand_from_smiles, torsion_topology

SCHEDULE = PoseNoiseSchedule()
# a rigid, chiral 4-point body: orientation is well defined by Kabsch
RIGID = torch.tensor([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.5]], dtype=torch.float64)
NO_BONDS, NO_MASKS = torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 4, dtype=torch.bool)


@pytest.fixture(scope="module")
def ligand():
    mol, pos = ligand_from_smiles("CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)NCCOc1ccccc1N")
    bonds, masks, quads = torsion_topology(mol)
    return mol, pos - P.centroid(pos), bonds, masks, quads


def _wrap(x):
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def test_noising_vanishes_as_sigma_goes_to_zero(ligand):
    _, pos, bonds, masks, _ = ligand
    tiny = PoseNoiseSchedule(GeometricSchedule(1e-3, 19.0), GeometricSchedule(1e-3, 1.55, 2.0),
                             GeometricSchedule(1e-3, math.pi))
    g = torch.Generator().manual_seed(0)
    assert P.rmsd(noise_pose(pos.expand(16, -1, -1), 0.0, bonds, masks, tiny, g).pos, pos).max() < 0.02
    assert P.rmsd(noise_pose(pos.expand(16, -1, -1), 1.0, bonds, masks, tiny, g).pos, pos).min() > 1.0


def test_noised_pose_is_the_stated_perturbation(ligand):
    mol, pos, bonds, masks, quads = ligand
    g = torch.Generator().manual_seed(1)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    noised = noise_pose(pos.expand(3, -1, -1), t, bonds, masks, SCHEDULE, g)
    assert torch.allclose(P.centroid(noised.pos), noised.tr_update, atol=1e-9)
    turned = _wrap(P.dihedral_angles(noised.pos, quads) - P.dihedral_angles(pos, quads) - noised.tor_update)
    assert turned.abs().max() < 1e-8
    in_place = P.apply_torsion_changes(pos.expand(3, -1, -1), bonds, masks, noised.tor_update)
    rotation, _ = P.kabsch(in_place, noised.pos)
    assert torch.allclose(rotation, axis_angle_to_matrix(noised.rot_update), atol=1e-8)
    pairs, triples = bond_and_angle_triples(mol)
    assert torch.allclose(bond_lengths_and_angles(noised.pos, pairs, triples)[0],
                          bond_lengths_and_angles(pos, pairs, triples)[0].expand(3, -1), atol=1e-9)
    assert torch.allclose(noised.tr_score, -noised.tr_update / noised.sigma_tr[:, None] ** 2)
    assert torch.allclose(noised.sigma_tr, 0.1 ** (1 - t) * 19.0 ** t)
    assert noised.tor_score.shape == (3, len(bonds)) and noised.rot_score.shape == (3, 3)
    as_float = noise_pose(pos.float(), 0.3, bonds, masks, SCHEDULE, g)
    assert as_float.pos.dtype == torch.float32 and as_float.rot_score.dtype == torch.float32


def test_normalisers_are_the_expected_squared_target_norms(ligand):
    _, pos, bonds, masks, _ = ligand
    g = torch.Generator().manual_seed(2)
    t = torch.rand(3000, generator=g, dtype=torch.float64)
    noised = noise_pose(pos.expand(3000, -1, -1), t, bonds, masks, SCHEDULE, g)
    assert abs(((noised.tr_score ** 2).sum(-1) / noised.tr_norm_sq).mean() - 1) < 0.05
    assert abs(((noised.rot_score ** 2).sum(-1) / noised.rot_norm_sq).mean() - 1) < 0.08
    assert abs((noised.tor_score ** 2 / noised.tor_norm_sq[:, None]).mean() - 1) < 0.05
    zero = torch.zeros(3000, 3, dtype=torch.float64)
    perfect = score_matching_loss(noised.tr_score, noised.rot_score, noised.tor_score.flatten(), noised)
    blind = score_matching_loss(zero, zero, torch.zeros_like(noised.tor_score), noised)
    assert all(value == 0 for value in perfect.values())
    assert all(abs(value - 1) < 0.1 for value in blind.values()), blind


def _orientation(pos):
    rotation, _ = P.kabsch(RIGID.expand_as(pos) - P.centroid(RIGID), pos)
    return matrix_to_axis_angle(rotation)


def _exact_rigid_score(mu, data_sigma_tr, data_sigma_rot):
    """Scores of the noised target: centroid ~ N(mu, s^2 I) -> N(mu, (s^2 + sigma^2) I); orientation
    ~ IGSO(3)(s_r) -> IGSO(3)(sqrt(s_r^2 + sigma^2)) (heat kernels compose by adding sigma^2)."""
    table = igso3_table()

    def score_fn(pos, t):
        tr = -(P.centroid(pos) - mu) / (data_sigma_tr ** 2 + float(SCHEDULE.translation.sigma(t)) ** 2)
        rot_sigma = math.sqrt(data_sigma_rot ** 2 + float(SCHEDULE.rotation.sigma(t)) ** 2)
        return tr, table.score_rotvec(_orientation(pos), rot_sigma), None
    return score_fn


def sample_one(score_fn, start, bonds, masks, settings, generator, return_trajectory=False, resample=None):
    """The shipped sampler (docking.model.sampler.sample_poses) on one ligand's samples."""
    out = sample_poses(lambda positions, t: [score_fn(positions[0], t)], [start], [Ligand(bonds, masks, generator)],
                       SCHEDULE, settings, resample, return_trajectory)
    return (out[0][0], out[1][0]) if return_trajectory else out[0]


@pytest.mark.parametrize("psi", [1.0, 0.0])  # reverse SDE and probability-flow ODE
def test_reverse_sampling_with_exact_scores_reaches_the_target(psi):
    mu, s_tr, s_rot = torch.tensor([4.0, -3.0, 10.0], dtype=torch.float64), 2.0, 0.3
    g = torch.Generator().manual_seed(3)
    start = sample_initial_poses(RIGID, NO_BONDS, NO_MASKS, 2000, mu, SCHEDULE, g)
    settings = SamplerSettings(num_steps=100 if psi > 0 else 400, stochasticity=psi)  # Euler's ODE bias ~ 1/steps
    final = sample_one(_exact_rigid_score(mu, s_tr, s_rot), start, NO_BONDS, NO_MASKS, settings, g)
    centroids = P.centroid(final)
    assert (centroids.mean(0) - mu).abs().max() < 0.15
    expected_std = math.sqrt(s_tr ** 2 + 0.1 ** 2)
    assert ((centroids.std(0) / expected_std) - 1).abs().max() < 0.06
    # orientation: compare quantiles of the angle with IGSO(3)(sqrt(s_rot^2 + sigma_min^2))
    angles = _orientation(final).norm(dim=-1)
    reference = igso3_table().sample_angle(torch.full((20000,), math.sqrt(s_rot ** 2 + 0.03 ** 2),
                                                      dtype=torch.float64), g)
    q = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    assert torch.allclose(angles.quantile(q), reference.quantile(q), rtol=0.06)


def test_low_temperature_sharpens_a_gaussian_target_exactly():
    mu, s_tr, temperature = torch.zeros(3, dtype=torch.float64), 2.0, 0.25
    g = torch.Generator().manual_seed(4)
    start = sample_initial_poses(RIGID, NO_BONDS, NO_MASKS, 2000, mu, SCHEDULE, g)
    settings = SamplerSettings(num_steps=100, temperature_tr=temperature, sigma_data_tr=s_tr)
    final = sample_one(_exact_rigid_score(mu, s_tr, 0.3), start, NO_BONDS, NO_MASKS, settings, g)
    expected_std = math.sqrt(temperature * s_tr ** 2 + 0.1 ** 2)
    assert ((P.centroid(final).std(0) / expected_std) - 1).abs().max() < 0.06


def test_reverse_sampling_of_torsions_with_exact_scores(ligand):
    """Torsions ~ wrapped normal around the conformer's, width s: the sampled dihedrals match it."""
    mol, pos, bonds, masks, quads = ligand
    reference, s_tor = P.dihedral_angles(pos, quads), 0.3

    def score_fn(current, t):
        sigma = math.sqrt(s_tor ** 2 + float(SCHEDULE.torsion.sigma(t)) ** 2)
        tor = torus.score(P.dihedral_angles(current, quads) - reference, sigma)
        zeros = torch.zeros(len(current), 3, dtype=current.dtype)
        return zeros, zeros, tor.flatten()

    g = torch.Generator().manual_seed(5)
    start = sample_initial_poses(pos, bonds, masks, 500, torch.zeros(3), SCHEDULE, g)
    final = sample_one(score_fn, start, bonds, masks, SamplerSettings(num_steps=100), g)
    deviation = _wrap(P.dihedral_angles(final, quads) - reference).flatten()
    expected_sigma = math.sqrt(s_tor ** 2 + 0.0314 ** 2)
    assert abs(deviation.std().item() / expected_sigma - 1) < 0.06
    pairs, triples = bond_and_angle_triples(mol)
    lengths, angles = bond_lengths_and_angles(final, pairs, triples)
    reference_lengths, reference_angles = bond_lengths_and_angles(pos, pairs, triples)
    assert torch.allclose(lengths, reference_lengths.expand_as(lengths), atol=1e-8)
    assert torch.allclose(angles, reference_angles.expand_as(angles), atol=1e-8)


def test_initial_poses_sample_the_prior(ligand):
    _, pos, bonds, masks, quads = ligand
    center = torch.tensor([10.0, 20.0, 30.0])
    g = torch.Generator().manual_seed(6)
    start = sample_initial_poses(pos, bonds, masks, 2000, center, SCHEDULE, g)
    offsets = P.centroid(start) - center.double()
    assert abs(offsets.std().item() / 19.0 - 1) < 0.05
    uniform = stats.uniform(loc=-math.pi, scale=2 * math.pi).cdf
    assert stats.kstest(P.dihedral_angles(start, quads)[:, 0].numpy(), uniform).pvalue > 0.01
    orientations = P.kabsch(P.apply_torsion_changes(pos, bonds, masks, torch.zeros(len(bonds), dtype=pos.dtype))
                            .expand(2000, -1, -1), start)[0]
    assert orientations.mean(0).abs().max() < 0.05  # Haar: E[R] = 0 (torsions perturb Kabsch little)


def _toy_score(mu):
    def score_fn(pos, t):
        centred = pos - P.centroid(pos)[:, None, :]
        tr = -(P.centroid(pos) - mu) / (1 + t)
        rot = torch.cross(centred[:, 0], centred[:, -1], dim=-1) * 0.01
        tor = torch.sin(centred[:, :7, 0]).flatten()
        return tr, rot, tor
    return score_fn


def test_same_seed_gives_identical_poses_and_the_options_work(ligand):
    _, pos, bonds, masks, _ = ligand
    bonds7, masks7 = bonds[:7], masks[:7]
    mu = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)

    def run(seed, **options):
        g = torch.Generator().manual_seed(seed)
        start = sample_initial_poses(pos, bonds7, masks7, 8, mu, SCHEDULE, g)
        settings = SamplerSettings(num_steps=10, **options)
        return sample_one(_toy_score(mu), start, bonds7, masks7, settings, g, return_trajectory=True)

    first, trajectory = run(7)
    assert torch.equal(first, run(7)[0])
    assert not torch.allclose(first, run(8)[0])
    assert trajectory.shape == (11, *first.shape) and torch.equal(trajectory[-1], first)
    assert not torch.equal(run(7, final_step_noise=True)[0], first)
    assert torch.isfinite(run(7, stochasticity=0.0, temperature_rot=0.5, temperature_tor=0.5)[0]).all()


def test_a_score_composed_of_parts_is_their_sum():
    """Half the exact score plus half of it, as two parts, samples the same target exactly."""
    mu, s_tr, s_rot = torch.tensor([4.0, -3.0, 10.0], dtype=torch.float64), 2.0, 0.3
    exact = _exact_rigid_score(mu, s_tr, s_rot)

    def half(positions, t):
        tr, rot, _ = exact(positions[0], t)
        return [(0.5 * tr, 0.5 * rot, None)]

    def run(score):
        g = torch.Generator().manual_seed(3)
        start = sample_initial_poses(RIGID, NO_BONDS, NO_MASKS, 200, mu, SCHEDULE, g)
        return sample_poses(score, [start], [Ligand(NO_BONDS, NO_MASKS, g)], SCHEDULE, SamplerSettings(num_steps=30))[0]

    whole = run(lambda positions, t: [exact(positions[0], t)])
    assert torch.allclose(run(ComposedScore(half, half)), whole, atol=1e-9)
    assert not torch.allclose(run(ComposedScore(half)), whole, atol=1e-3)


def test_ligands_sampled_together_get_the_poses_they_get_alone(ligand):
    """Each ligand draws from its own generator: lockstep sampling does not mix their random streams."""
    _, pos, bonds, masks, _ = ligand
    bonds, masks = bonds[:7], masks[:7]
    mu = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    score_one = _toy_score(mu)
    settings = SamplerSettings(num_steps=6)

    def starts(seed, count):
        g = torch.Generator().manual_seed(seed)
        return sample_initial_poses(pos, bonds, masks, count, mu, SCHEDULE, g), g

    (a, ga), (b, gb) = starts(1, 3), starts(2, 5)
    together = sample_poses(lambda positions, t: [score_one(p, t) for p in positions], [a, b],
                            [Ligand(bonds, masks, ga), Ligand(bonds, masks, gb)], SCHEDULE, settings)
    (a, ga), (b, gb) = starts(1, 3), starts(2, 5)
    assert torch.equal(together[0], sample_one(score_one, a, bonds, masks, settings, ga))
    assert torch.equal(together[1], sample_one(score_one, b, bonds, masks, settings, gb))


def test_the_resampling_hook_reorders_samples_and_the_score_follows(ligand):
    """A hook that copies sample 0 over every sample after the last step: all final poses are sample 0's,
    and the score hears of the order it must follow (as the learned score's latent picks do)."""
    _, pos, bonds, masks, _ = ligand
    bonds, masks = bonds[:7], masks[:7]
    mu = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    settings = SamplerSettings(num_steps=4)

    class Recording:
        def __init__(self):
            self.followed = []

        def __call__(self, positions, t):
            return [_toy_score(mu)(positions[0], t)]

        def follow(self, orders):
            self.followed.append(orders)

    def copy_first_at_the_end(step, positions):
        return [torch.zeros(len(positions[0]), dtype=torch.long)] if step == settings.num_steps - 1 else None

    g = torch.Generator().manual_seed(0)
    start = sample_initial_poses(pos, bonds, masks, 4, mu, SCHEDULE, g)
    score = Recording()
    final = sample_poses(score, [start], [Ligand(bonds, masks, g)], SCHEDULE, settings, copy_first_at_the_end)[0]
    assert torch.equal(final, final[:1].expand_as(final))
    assert len(score.followed) == 1 and score.followed[0][0].tolist() == [0, 0, 0, 0]
    g = torch.Generator().manual_seed(0)
    start = sample_initial_poses(pos, bonds, masks, 4, mu, SCHEDULE, g)
    plain = sample_one(_toy_score(mu), start, bonds, masks, settings, g)
    assert torch.equal(final[0], plain[0]) and not torch.allclose(plain[1], plain[0])
