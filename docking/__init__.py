"""DiffDock-style docking with DisCo pointer latents: product-space diffusion over ligand poses
(R^3 x SO(3) x T^m), steered and finished by a Vina-form interaction energy.

    from docking import dock       the Python API (docking.api): one protein, one or many
                                   ligands -> RDKit poses and a pandas table; cheap to import

    request/      what the user asked for: options and their rules, presets, --shard, ligand streams, jobs
    inference/    the engine: model folders, the pipeline, given and blind sites, the guided search, one
                  ligand docked and post-processed
    runs/         a run on disk: the batch loop, the folder and run.json, tables, shards, merge, a ligand's files
    report/       OUT/report.html from a finished run folder
    contacts/     ProLIF contacts of the poses and the protonated receptor they need
    model/        the learned model: networks, SO(3)/torus math, noise schedule, forward noising and the one
                  reverse-diffusion sampler, docking complexes with the learned score
    physics/      everything in kcal/mol or kJ/mol: interaction energy and grid maps, guidance, minimisation,
                  basin hopping and random starts, OpenMM relaxation (GAFF2), Vina rescoring, PoseBusters checks
    confidence/   probabilities about poses: calibration, the pose confidence of guided poses and its fit
    geometry/     rotations and pose transforms (rigid motion, torsion changes) of ligand coordinates
    training/     the training stages and model-folder export
    api.py, dock_cli.py, train_cli.py   the Python API, `disco dock`, `disco train`: parse, call one library
                  function, render

Arrows run from api and the CLIs through runs and inference down to model, physics and confidence; request
imports no engine; report and contacts read what a run wrote and never import the engine; physics never
imports model or inference; training never imports inference or runs (tests/test_import_graph.py).
"""

from docking.api import DockingResults, dock  # noqa: E402  (light: heavy imports happen inside dock)

__all__ = ["dock", "DockingResults"]
