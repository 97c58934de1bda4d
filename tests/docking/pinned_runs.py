"""Fixed-seed dockings of the shipped example whose poses were recorded before docking/ was restructured.

`python -m tests.docking.pinned_runs record` (from the repository root) writes
tests/data/pinned_poses/poses.json; tests/docking/test_pinned_poses.py docks the same cases and compares.
The cases cover the pocket and blind paths, unguided and physics-guided (with basin hopping).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "1s3v"
PROTEIN = EXAMPLE / "1s3v_protein.pdb"
LIGAND = EXAMPLE / "1s3v_ligand.sdf"
RECORD = ROOT / "tests" / "data" / "pinned_poses" / "poses.json"

# name: (blind, physics guidance weight, refine rounds, samples, steps)
CASES = {
    "pocket_unguided": (False, 0.0, 0, 4, 8),
    "pocket_guided": (False, 3.0, 2, 4, 8),
    "blind_unguided": (True, 0.0, 0, 3, 6),
    "blind_guided": (True, 3.0, 0, 3, 6),
}


def run_case(name: str) -> dict:
    """Dock the example for one case; poses (ranked), confidences, energies, picks and sites as lists."""
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.inference.given_sites import pocket_from_ligand_file
    from docking.physics.guidance import PhysicsGuidance

    blind, weight, rounds, samples, steps = CASES[name]
    physics = PhysicsGuidance(weight=weight, refine_rounds=rounds) if weight > 0 else None
    options = DockOptions(samples=samples, steps=steps, seed=0, device="cpu", blind_sites=2, physics=physics,
                          energy="pairwise",   # the recording predates the grid maps
                          rank_by="energy" if physics is not None else "confidence")
    pocket = None if blind else pocket_from_ligand_file(LIGAND)
    result = DockingPipeline(options).dock(PROTEIN, LIGAND, name="1s3v", pocket=pocket)
    return {
        "poses": [mol.GetConformer().GetPositions().round(4).tolist() for mol in result.poses],
        "confidences": [round(float(c), 6) for c in result.confidences],
        "energies": result.extras.get("interaction_energy", []),
        "picks": [list(p) for p in result.picks],
        "samples": list(result.samples),
        "sites": list(result.sites),
    }


def record() -> None:
    torch.set_num_threads(1)
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps({name: run_case(name) for name in CASES}, indent=None) + "\n")


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    record()
