"""The two settings of `disco dock` a user picks between, shared by the CLI and `disco bench dock`.

    default   the setting that won on val (benchmarks/results/random_starts_val, which built on
              default_mode_val and grid_pairwise_val; the step count from diffusion_steps_val): the learned
              score steered by the interaction energy read from receptor grid maps, 30 reverse steps,
              minimisation, then 30 rounds of basin hopping from the ten samples and from 30 random poses
              in the site, the ten lowest distinct poses minimised once more in the exact pairwise energy and ranked by it
    fast      `--fast`, the sampler alone (8 steps: fast_steps_val; no energy while sampling), for screens of very many
              ligands; its poses are locally minimised in the interaction energy and ranked by it, because
              the confidence model's calibrated score is nearly the same number for every pose

Keeping them in one place means the benchmark measures exactly what the CLI runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:     # the CLI reads the presets before it needs torch
    from docking.physics.guidance import PhysicsGuidance


@dataclass(frozen=True)
class DockPreset:
    physics_guidance: float      # W of the energy guidance while sampling (0: the learned score alone)
    steps: int                   # reverse-diffusion steps
    refine_rounds: int           # basin-hopping rounds after the local minimisation
    rank_by: str                 # "energy" (the minimised interaction energy), "intermolecular" (its receptor-ligand
                                 # part) or "confidence"
    energy: str                  # "pairwise", "grid" (receptor grid maps) or "grid+pairwise" (search, then rank)
    refine_chains: int = 1       # basin-hopping chains started from each minimised pose
    random_starts: int = 0       # basin-hopping chains started from random poses (docking.physics.global_search)


DEFAULT = DockPreset(physics_guidance=3.0, steps=30, refine_rounds=30, rank_by="energy", energy="grid+pairwise",
                     random_starts=30)
FAST = DockPreset(physics_guidance=0.0, steps=8, refine_rounds=0, rank_by="energy", energy="pairwise")
PRESETS = {"default": DEFAULT, "fast": FAST}
ENERGY_RANKINGS = ("energy", "intermolecular")   # rankings that need the interaction energy of every pose
# rankings of the searched (minimised) poses as the pipeline returns them: the energies and the learned pose scorer
# (docking.scoring.pose_scorer); the poses' search is the same for all of them
SEARCH_RANKINGS = ENERGY_RANKINGS + ("scorer",)
# the preset settings `disco bench dock` lets a run override (the others are the default's, as `disco dock` runs them)
PRESET_OVERRIDES = ("steps", "physics_guidance", "refine_rounds", "energy", "refine_chains", "random_starts")


def physics_for(physics_guidance: float, refine_rounds: int, rank_by: str,
                refine_chains: int = 1, random_starts: int = 0) -> "PhysicsGuidance | None":
    """The physics a setting runs: guidance (with resampling) when W > 0; without guidance but ranked by
    energy, only the final local minimisation that makes energies comparable (and the refinement, if any);
    else none."""
    from docking.physics.guidance import PhysicsGuidance

    if physics_guidance > 0:
        return PhysicsGuidance(weight=physics_guidance, refine_rounds=refine_rounds, refine_chains=refine_chains,
                               random_starts=random_starts)
    if rank_by in SEARCH_RANKINGS:
        return PhysicsGuidance(weight=0.0, resample_at=(), refine_rounds=refine_rounds, refine_chains=refine_chains,
                               random_starts=random_starts)
    return None


def preset_settings(fast: bool = False, rescore: str | None = None, relax: bool = False,
                    **given: float | int | str | None) -> dict[str, float | int | str]:
    """physics_guidance, steps, refine_rounds, rank_by, energy, refine_chains and random_starts of a request: those `given`
    (not None) as they are, the others the chosen preset's (DEFAULT, or FAST); the preset's energy ranking gives way to
    Vina's when `rescore` vina moves the poses, and to the confidence when only `relax` does, its
    refinement rounds lapse when there is no energy to search in, and its random starts when there are no
    refinement rounds. Shared by `disco dock` and docking.dock."""
    unknown = set(given) - set(DockPreset.__dataclass_fields__)
    if unknown:
        raise TypeError(f"not preset settings: {', '.join(sorted(unknown))}")
    settings = dict(vars(FAST if fast else DEFAULT))
    if rescore:
        settings["rank_by"] = "vina"
    elif relax:
        settings["rank_by"] = "confidence"
    settings.update({name: value for name, value in given.items() if value is not None})
    if given.get("refine_rounds") is None and not (settings["physics_guidance"] > 0 or settings["rank_by"] in SEARCH_RANKINGS):
        settings["refine_rounds"] = 0       # no energy to search in: the preset's rounds do not apply
    if given.get("random_starts") is None and settings["refine_rounds"] == 0:
        settings["random_starts"] = 0       # no basin hopping to start chains in: the preset's starts do not apply
    return settings
