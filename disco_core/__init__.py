"""Task-agnostic DisCo-Diff machinery: discrete latents, AR priors, EDM diffusion, trainer, checkpoints."""

__version__ = "0.1.0"
