"""Docking complexes with the learned model steered by the interaction energy (`disco dock --physics-guidance`).

The sampler is the one of docking.model.sampler; physics adds two parts to it and finishes its poses:

    score      s = learned score (with classifier-free guidance) + energy guidance   (ComposedScore)
    resample   at a few times, samples are resampled by their minimised energy          (EnergyResampling)
    finish     local minimisation, optionally basin hopping, in the same energy
    rank       confidence model order; each pose carries its energy (total and intermolecular part) and its
               pose-confidence features

Complexes without an energy are sampled by the learned score alone, in the same batch.
"""

from __future__ import annotations

import torch

from docking.confidence.pose_confidence import guided_pose_features
from docking.model.complex_sampling import (
    DockedPoses,
    Docking,
    LearnedScore,
    confidence_logits,
    dock_complexes,
    prepare_complexes,
    rank_by_confidence,
)
from docking.model.loading import DockingModels
from docking.model.noise_schedule import PoseNoiseSchedule
from docking.model.sampler import ComposedScore, SamplerSettings, sample_poses
from docking.physics.basin_hopping import refine_poses
from docking.physics.global_search import search_poses
from docking.physics.guidance import EnergyGuidance, EnergyResampling, PhysicsGuidance
from docking.physics.interaction_energy import InteractionEnergy
from docking.physics.local_minimization import minimize_near


def noise_levels(schedule: PoseNoiseSchedule, t: float) -> dict[str, float]:
    """The sigmas at time t as the score model receives them (float32), which cap the energy guidance."""
    return {name: float(torch.tensor(float(component.sigma(t)), dtype=torch.float32))
            for name, component in (("tr", schedule.translation), ("rot", schedule.rotation),
                                    ("tor", schedule.torsion))}


@torch.no_grad()
def dock_guided_complexes(models: DockingModels, dockings: list[Docking], energies: list[InteractionEnergy | None],
                          physics: PhysicsGuidance | None, num_samples: int = 10,
                          settings: SamplerSettings | None = None, guidance_weight: float = 0.0,
                          prior_temperature: float = 1.0, null_latents: bool = False,
                          learned_scale: float = 1.0,
                          ranking_energies: list[InteractionEnergy | None] | None = None) -> list[DockedPoses]:
    """Sample `num_samples` poses per complex, those with an energy guided, resampled and minimised in it
    (physics), all complexes through the score model together; ranked by confidence. With
    `ranking_energies` (the exact pairwise energy beside a grid search's), the searched poses are
    minimised once more in that energy, and it is the energy they carry. The ablations:
    `null_latents` (the score model's null latent instead of the prior's picks), `learned_scale` 0
    (physics only: the learned score set to 0, the same search)."""
    settings = settings or SamplerSettings()
    if physics is None or all(energy is None for energy in energies):
        return dock_complexes(models, dockings, num_samples, settings, guidance_weight, prior_temperature,
                              null_latents)
    device = models.device
    prepared = prepare_complexes(models, dockings, num_samples, prior_temperature, null_latents)
    energies = [None if energy is None else energy.to(device) for energy in energies]
    bonds = [(ligand.rot_bonds, ligand.rot_masks) for ligand in prepared.ligands]
    learned = LearnedScore(models.score, prepared, models.schedule, guidance_weight, learned_scale)
    score = learned if physics.weight == 0 else ComposedScore(
        learned, EnergyGuidance(energies, bonds, physics.weight, lambda t: noise_levels(models.schedule, t)))
    resample = EnergyResampling(energies, bonds, [ligand.generator for ligand in prepared.ligands], physics,
                                settings.num_steps) if physics.resample_at else None
    poses = sample_poses(score, prepared.initial, prepared.ligands, models.schedule, settings, resample)
    final_energies, intermolecular = [None] * len(dockings), [None] * len(dockings)
    for i, (energy, (rot_bonds, rot_masks)) in enumerate(zip(energies, bonds)):
        if energy is None:
            continue
        if physics.minimize_steps > 0:
            poses[i], final_energies[i] = minimize_near(energy, poses[i], rot_bonds, rot_masks,
                                                        dockings[i].center.to(device), physics.minimize_steps)
        else:
            final_energies[i] = energy(poses[i])
        if physics.refine_rounds > 0 and physics.random_starts > 0:
            poses[i], final_energies[i] = search_poses(energy, poses[i], final_energies[i], rot_bonds, rot_masks,
                                                       dockings[i].center.to(device), physics.refine_rounds,
                                                       physics.refine_steps, dockings[i].generator,
                                                       physics.random_starts, physics.refine_chains,
                                                       physics.refine_temperature)
        elif physics.refine_rounds > 0:
            poses[i], final_energies[i] = refine_poses(energy, poses[i], final_energies[i], rot_bonds, rot_masks,
                                                       dockings[i].center.to(device), physics.refine_rounds,
                                                       physics.refine_steps, dockings[i].generator,
                                                       physics.refine_temperature, physics.refine_chains)
        ranking = energy
        if ranking_energies is not None and ranking_energies[i] is not None:
            ranking = ranking_energies[i].to(device)
            poses[i], final_energies[i] = minimize_near(ranking, poses[i], rot_bonds, rot_masks,
                                                        dockings[i].center.to(device), physics.polish_steps)
        intermolecular[i] = ranking.intermolecular(poses[i]).detach()
    logits = confidence_logits(models, prepared.batch, poses)
    features = guided_pose_features(models, prepared.batch, poses, final_energies, logits,
                                    [rot_bonds.shape[0] for rot_bonds, _ in bonds])
    return rank_by_confidence(models, poses, logits, learned.node_picks, final_energies, features, intermolecular)
