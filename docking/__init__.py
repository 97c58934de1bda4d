"""DiffDock-style docking with DisCo pointer latents: product-space diffusion over ligand poses
(R^3 x SO(3) x T^m), steered and finished by a Vina-form interaction energy.

    from docking import dock       the Python API (docking.inference.python_api): one protein, one or many
                                   ligands -> RDKit poses and a pandas table; cheap to import

    geometry/     rotations and pose transforms (rigid motion, torsion changes) of ligand coordinates
    model/        the learned model: networks, SO(3)/torus math, noise schedule, forward noising and the one
                  reverse-diffusion sampler, docking complexes with the learned score
    physics/      everything in kcal/mol or kJ/mol: interaction energy, guidance, minimisation, basin
                  hopping, OpenMM relaxation (GAFF2), Vina rescoring, PoseBusters checks
    confidence/   probabilities about poses: calibration, the pose confidence of guided poses and its fit
    inference/    what `disco dock` and the Python API run: model folders, the pipeline, sites, ligand
                  streams, outputs, the batch run
    training/     the training stages and model-folder export
    dock_cli.py, train_cli.py   `disco dock`, `disco train`: parse, call one library function, render

Arrows run from inference down to model, physics and confidence; physics never imports model or
inference; training imports model and confidence, never inference; geometry imports nothing above it.
"""

from docking.inference.python_api import DockingResults, dock  # noqa: E402  (light: heavy imports happen inside dock)

__all__ = ["dock", "DockingResults"]
