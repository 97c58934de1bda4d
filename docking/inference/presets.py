"""The two settings of `disco dock` a user picks between, shared by the CLI and `disco bench dock`.

    default   the setting that won on val (benchmarks/results/default_mode_val): the learned score steered
              by the interaction energy, 60 reverse steps, minimisation and 30 rounds of basin hopping,
              ranked by that energy
    fast      `--fast`, the sampler alone (20 steps, no energy while sampling), for screens of very many
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
    rank_by: str                 # "energy" (the minimised interaction energy) or "confidence"
    energy: str                  # "grid" (receptor grid maps) or "pairwise"


DEFAULT = DockPreset(physics_guidance=3.0, steps=60, refine_rounds=30, rank_by="energy", energy="pairwise")
FAST = DockPreset(physics_guidance=0.0, steps=20, refine_rounds=0, rank_by="energy", energy="pairwise")
PRESETS = {"default": DEFAULT, "fast": FAST}


def physics_for(physics_guidance: float, refine_rounds: int, rank_by: str) -> "PhysicsGuidance | None":
    """The physics a setting runs: guidance (with resampling) when W > 0; without guidance but ranked by
    energy, only the final local minimisation that makes energies comparable; else none."""
    from docking.physics.guidance import PhysicsGuidance

    if physics_guidance > 0:
        return PhysicsGuidance(weight=physics_guidance, refine_rounds=refine_rounds)
    if rank_by == "energy":
        return PhysicsGuidance(weight=0.0, resample_at=(), refine_rounds=refine_rounds)
    return None
