"""Blind docking's site search: buriedness on a grid, pockets as connected cavities, the shipped
complex's binding site found first, and the edge cases (no pocket, far-apart sites)."""

import numpy as np
import pytest

from data_prep.protein import read_heavy_atoms
from docking.inference.site_search import (NoCavityError, PocketFinderSettings, blind_site_table, buriedness,
                                           candidate_sites, find_pockets)
from disco_core.errors import InputError

from tests.docking.test_dock_cli import PROTEIN, crystal_center


def hollow_sphere(radius: float = 9.0, spacing: float = 1.5) -> np.ndarray:
    """Atoms on a closed spherical shell: a cavity of radius ~6 A (after the 3 A clearance) at the origin."""
    golden = np.pi * (3 - np.sqrt(5))
    n = int(4 * np.pi * radius ** 2 / spacing ** 2)
    z = 1 - 2 * (np.arange(n) + 0.5) / n
    r = np.sqrt(1 - z ** 2)
    return radius * np.stack([r * np.cos(golden * np.arange(n)), r * np.sin(golden * np.arange(n)), z], 1)


def test_buriedness_counts_rays_that_hit():
    occupied = np.zeros((9, 9, 9), dtype=bool)
    occupied[4, 4, 8] = True                       # one atom straight up the z axis from the centre
    counts = buriedness(occupied, steps=5)
    assert counts[4, 4, 4] == 1 and counts[4, 4, 2] == 0     # 6 steps away: beyond the ray
    occupied[:] = True
    occupied[4, 4, 4] = False
    assert buriedness(occupied, steps=2)[4, 4, 4] == 14      # enclosed on every side


def test_a_closed_cavity_is_found_at_its_centre():
    pockets = find_pockets(hollow_sphere())
    assert len(pockets) == 1
    assert np.linalg.norm(pockets[0].center) < 0.5
    assert pockets[0].points > 300                 # ~4/3 pi 6^3 = 900 grid points, minus the rim


def test_open_surface_has_no_pocket_and_no_site():
    """No pocket, no site: blind docking refuses the protein (NoCavityError, naming it and the options that give
    a site) instead of docking at a guess."""
    flat = np.array([[x, y, 0.0] for x in np.arange(0, 30, 1.5) for y in np.arange(0, 30, 1.5)])
    assert find_pockets(flat) == []
    assert candidate_sites(flat, max_sites=4) == []
    with pytest.raises(NoCavityError, match=r"flat\.pdb: no cavity .*--pocket-center X Y Z or --autobox-ligand"):
        blind_site_table("flat.pdb", flat, docked=4)


def test_two_cavities_are_ranked_and_kept_apart():
    big, small = hollow_sphere(9.0), hollow_sphere(7.0) + np.array([40.0, 0.0, 0.0])
    sites = candidate_sites(np.concatenate([small, big]), max_sites=4)
    assert [s.source for s in sites] == ["blind-site-1", "blind-site-2"]
    assert np.linalg.norm(sites[0].center) < 0.5                               # the bigger core first
    assert np.linalg.norm(np.array(sites[1].center) - [40.0, 0.0, 0.0]) < 0.5
    one = candidate_sites(np.concatenate([small, big]), max_sites=1)
    assert len(one) == 1 and one[0].center == sites[0].center


def test_the_shipped_complex_binding_site_comes_first():
    """1s3v's ligand sits in the protein's deepest cleft: site 1 is within 4 A of its centroid."""
    atoms = read_heavy_atoms(PROTEIN).pos
    assert len(atoms) > 1000
    sites = candidate_sites(atoms, max_sites=4)
    assert 1 <= len(sites) <= 4
    centers = np.array([s.center for s in sites])
    gaps = np.linalg.norm(centers[:, None] - centers[None], axis=-1) + np.eye(len(sites)) * 1e3
    assert gaps.min() >= PocketFinderSettings().min_separation
    assert np.linalg.norm(centers[0] - np.array(crystal_center())) < 4.0


def test_unreadable_protein_is_named(tmp_path):
    bad = tmp_path / "broken protein.pdb"
    bad.write_text("")
    with pytest.raises(InputError, match="broken protein.pdb"):
        read_heavy_atoms(bad)


def test_guided_blind_docking_keeps_the_lowest_energy_poses_of_all_sites():
    """Ranked by energy, blind docking keeps the `samples` lowest-energy poses over every site, not
    the ones the confidence model happens to prefer (same seed: the same sampled poses either way)."""
    from docking.physics.guidance import PhysicsGuidance
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.inference.ranking import sampling_rank

    from tests.docking.test_dock_cli import LIGAND

    assert sampling_rank("energy", True) == sampling_rank("vina", True) == "energy"
    assert sampling_rank("vina", False) == sampling_rank("confidence", True) == "confidence"

    def run(rank_by: str):
        options = DockOptions(samples=3, steps=4, device="cpu", blind_sites=2, rank_by=rank_by,
                              physics=PhysicsGuidance(weight=3.0, minimize_steps=10, resample_at=(), preview_steps=0))
        return DockingPipeline(options).dock(PROTEIN, LIGAND, name="1s3v")

    by_energy, by_confidence = run("energy"), run("confidence")
    energies = by_energy.extras["interaction_energy"]
    assert energies == sorted(energies) and len(energies) == 3
    assert all(site.startswith("blind-site-") for site in by_energy.sites)
    assert sum(energies) <= sum(by_confidence.extras["interaction_energy"]) + 1e-6


def test_site_centre_choices_on_a_two_lobed_cavity():
    """A big lobe (cavity radius ~6 A after clearance) at the origin joined to a small one (~4 A) at x = 12: the
    core centres sit in the big lobe, the whole pocket's centroid between the lobes, near the two balls' closed-form
    volume-weighted centroid 12 * 4^3 / (6^3 + 4^3) = 2.74 A (the neck adds a little)."""
    big, small = hollow_sphere(9.0), hollow_sphere(7.0) + np.array([12.0, 0.0, 0.0])
    atoms = np.concatenate([big[np.linalg.norm(big - [12.0, 0.0, 0.0], axis=1) > 7.0],
                            small[np.linalg.norm(small, axis=1) > 9.0]])
    centres = {c: np.array(find_pockets(atoms, PocketFinderSettings(center=c))[0].center)
               for c in ("core", "core_mean", "pocket")}
    assert np.linalg.norm(centres["core"]) < 0.5 and np.linalg.norm(centres["core_mean"]) < 0.5
    assert 2.2 < centres["pocket"][0] < 3.8 and np.abs(centres["pocket"][1:]).max() < 0.3
    with pytest.raises(ValueError, match="center must be one of"):
        find_pockets(atoms, PocketFinderSettings(center="middle"))


@pytest.mark.parametrize("spacing, clearance", [(1.0, 3.0), (1.0, 2.5), (0.7, 3.0)])
def test_occupied_grid_equals_a_kd_tree_query_of_every_point(spacing, clearance):
    """The atom-stamped occupancy is exactly "some heavy atom closer than the clearance" for every grid point, as a
    scipy kd-tree query of all points says, on the shipped protein."""
    from scipy.spatial import cKDTree

    from docking.inference.site_search import occupied_grid

    atoms = read_heavy_atoms(PROTEIN).pos
    low = atoms.min(0) - clearance - spacing
    shape = tuple(int(np.ceil(e / spacing)) + 1 for e in atoms.max(0) + clearance + spacing - low)
    points = low + np.indices(shape).reshape(3, -1).T * spacing
    distance, _ = cKDTree(atoms).query(points)
    expected = (distance < clearance).reshape(shape)
    got = occupied_grid(atoms, low, shape, spacing, clearance)
    assert got.sum() > 1000 and np.array_equal(got, expected)


def test_a_protein_too_large_for_the_grid_is_refused_with_its_size():
    atoms = np.array([[0.0, 0.0, 0.0], [400.0, 300.0, 350.0]])
    with pytest.raises(InputError, match=r"huge\.pdb: too large for the blind site search: its box is "
                                         r"409 x 309 x 359 A \(45 million grid points; the limit is 40 million\); "
                                         r"give the site with --pocket-center"):
        blind_site_table("huge.pdb", atoms, docked=4)
