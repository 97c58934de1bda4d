"""Basin hopping from random starts as well as from the samples (`disco dock --random-starts R`).

Why: on val complexes where Vina's rank-1 pose is near-native and ours is not, our energy prefers Vina's pose to
every pose our search returned, and that pose lies in our own pose space (same conformer, only position,
orientation and torsions differ; benchmarks/results/search_or_energy_val3): the search never reached the basin.
Chains that start from the diffusion samples stay near them (more chains per sample deepen the same basins,
benchmarks/results/refine_chains_val10), so breadth must come from starts the model did not propose. Vina's
own search starts its Monte Carlo chains at random poses in the box; here R such chains run beside the samples'
chains in one batched tensor program, and the S poses returned are the lowest-energy distinct ones of all
chains (distinct: more than MIN_RMSD_A apart, as Vina keeps its output modes apart).

    starts    = the S minimised samples (C chains each) + R random poses: centroid uniform in a ball of
                `start_radius` around the site centre, uniform orientation, uniform torsions
    chains    = basin_hopping(starts)                                   docking.physics.basin_hopping
    returned  = the S lowest of {samples, chains' best poses}, greedily, skipping any within MIN_RMSD_A of one kept
"""

from __future__ import annotations

import torch

from docking.geometry.pose import apply_torsion_changes, rmsd, rotate_about_centroid
from docking.geometry.rotations import uniform_rotation_matrices
from docking.physics.basin_hopping import TEMPERATURE, basin_hopping
from docking.physics.interaction_energy import InteractionEnergy
from docking.physics.local_minimization import local_energy, minimize_poses

MIN_RMSD_A = 1.0          # two returned poses are at least this far apart (Vina's default min_rmsd)
START_RADIUS_A = 4.0      # random starts put the ligand's centroid within this distance of the site centre


def random_poses(template: torch.Tensor, count: int, center: torch.Tensor, radius: float, rot_bonds: torch.Tensor,
                 rot_masks: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """`count` poses (count, N, 3) of the conformer `template` (N, 3): every torsion turned by a uniform angle,
    a uniform orientation, the centroid uniform in the ball of `radius` around `center`. Drawn on the
    generator's device, so that a seed gives the same starts on any device."""
    device, draw_on = template.device, (generator.device if generator is not None else "cpu")
    pos = template.detach().float()[None].repeat(count, 1, 1)
    if rot_bonds.shape[0] > 0:
        angles = (torch.rand(count, rot_bonds.shape[0], generator=generator, device=draw_on) * 2 - 1) * torch.pi
        pos = apply_torsion_changes(pos, rot_bonds, rot_masks, angles.to(device), realign=False)
    rotations = uniform_rotation_matrices(count, generator=generator).to(device, pos.dtype)
    pos = rotate_about_centroid(pos, rotations)
    direction = torch.randn(count, 3, generator=generator, device=draw_on)
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    distance = radius * torch.rand(count, 1, generator=generator, device=draw_on) ** (1 / 3)
    offset = (direction * distance).to(device)
    return pos - pos.mean(dim=1, keepdim=True) + center.to(device, pos.dtype) + offset[:, None, :]


def distinct_lowest(poses: torch.Tensor, energies: torch.Tensor, keep: int, min_rmsd: float = MIN_RMSD_A) -> torch.Tensor:
    """Indices of `keep` poses of poses (M, N, 3), lowest energy first, each more than `min_rmsd` (plain RMSD,
    same atom order) from every one chosen before it; when fewer are that distinct, the lowest of the rest fill
    the list, so that exactly `keep` come back."""
    order = torch.argsort(energies)
    chosen: list[int] = []
    for index in order.tolist():
        if len(chosen) == keep:
            break
        if chosen and bool((rmsd(poses[chosen], poses[index]) <= min_rmsd).any()):
            continue
        chosen.append(index)
    rest = [i for i in order.tolist() if i not in chosen]
    return torch.tensor(chosen + rest[:keep - len(chosen)], dtype=torch.long, device=energies.device)


def search_poses(energy: InteractionEnergy, pos: torch.Tensor, energies: torch.Tensor, rot_bonds: torch.Tensor,
                 rot_masks: torch.Tensor, center: torch.Tensor, rounds: int, minimize_steps: int,
                 generator: torch.Generator | None, random_starts: int, chains: int = 1,
                 temperature: float = TEMPERATURE, start_radius: float = START_RADIUS_A
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """S poses (S, N, 3) and their energies (S,) from one ligand's minimised poses pos (S, N, 3) with energies
    (S,): `chains` basin-hopping chains from each pose and `random_starts` from random poses (minimised first),
    `rounds` rounds of `minimize_steps` each, all in one batch; the S lowest distinct poses of the starts and the
    chains' best, their energies re-evaluated in the full energy (the chains see only the receptor near the
    starts, docking.physics.local_minimization.local_energy)."""
    samples = pos.shape[0]
    random = random_poses(pos[0], random_starts, center, start_radius, rot_bonds, rot_masks, generator)
    search_energy = local_energy(energy, torch.cat([pos.float(), random]), center)
    random, _ = minimize_poses(search_energy, random, rot_bonds, rot_masks, minimize_steps)
    starts = torch.cat([pos.float().repeat(chains, 1, 1), random])
    visited, _ = basin_hopping(search_energy, starts, rot_bonds, rot_masks, rounds, minimize_steps, generator,
                               temperature)
    candidates = torch.cat([pos.float(), visited])
    candidate_energies = torch.cat([energies.float(), energy(visited).detach().float()])
    picked = distinct_lowest(candidates, candidate_energies, samples)
    return candidates[picked].to(pos.dtype), candidate_energies[picked].to(energies.dtype)
