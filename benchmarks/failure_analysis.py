"""`disco bench failures`: was a failed docking a search failure or a scoring failure?

The classic split of docking failures (the field's "sampling vs scoring" analysis): when the top-1 pose
is wrong, either the energy the search optimises prefers the crystal pose and the search never found it
(a *search* failure: more or better sampling would fix it), or the energy prefers the wrong pose (a
*scoring* failure: no search can fix it, only a better score). The measure is docking.physics.interaction_energy
(the Vina-form energy physics guidance samples and ranks with), both poses locally minimised in it with
the same minimiser (translation, rotation, torsions; the crystal ligand keeps its own bond geometry), on
the same receptor atoms. It reads a `disco bench dock` run folder and writes
RUN/search_or_scoring-<method>.csv and .json next to the run's own tables. Every complex of the run is a
row: one whose docking failed is verdict "failed" (a miss, as `disco bench dock` counts it), so `n` is
the run's complex count and success / n its top-1 rate.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rdkit import Chem

from disco_core.errors import InputError
from disco_core.io import atomic_write_text

from benchmarks.dock_bench import method_dir
from benchmarks.pose_metrics import read_references

SUCCESS_RMSD_A = 2.0
MINIMIZE_STEPS = 200


@dataclass(frozen=True)
class FailureRow:
    id: str
    verdict: str                          # success | search | scoring | failed (docking failed) | error
    top1_rmsd: float | None = None
    crystal_energy: float | None = None   # minimised crystal pose, kcal/mol-like
    top1_energy: float | None = None      # minimised top-1 pose
    error: str = ""


def verdict(top1_rmsd: float, crystal_energy: float, top1_energy: float) -> str:
    if top1_rmsd < SUCCESS_RMSD_A:
        return "success"
    return "search" if crystal_energy < top1_energy else "scoring"


def _minimised_energy(mol: Chem.Mol, receptor, steps: int) -> float:
    from data_prep.torsions import rotatable_bonds
    from docking.physics.interaction_energy import InteractionEnergy
    from docking.physics.local_minimization import minimize_poses

    energy = InteractionEnergy.for_ligand(mol, receptor)
    pos = torch.tensor(mol.GetConformer().GetPositions(), dtype=torch.float32)[None]
    bonds, masks = (torch.as_tensor(a) for a in rotatable_bonds(mol))
    return float(minimize_poses(energy, pos, bonds, masks, steps)[1][0])


def analyse_complex(complex_id: str, protein_path: Path, crystal: Chem.Mol, top1: Chem.Mol, top1_rmsd: float,
                    steps: int = MINIMIZE_STEPS) -> FailureRow:
    """Both poses' minimised energies on the receptor atoms within the cutoff of either pose's reach."""
    from data_prep.protein import read_heavy_atoms
    from docking.physics.interaction_energy import CUTOFF_A, receptor_atoms

    crystal, top1 = Chem.RemoveHs(crystal, sanitize=False), Chem.RemoveHs(top1, sanitize=False)
    crystal_pos = torch.tensor(crystal.GetConformer().GetPositions())
    center = crystal_pos.mean(0)
    reach = max(float((torch.tensor(m.GetConformer().GetPositions()) - center).norm(dim=-1).max())
                for m in (crystal, top1))
    # 4 A for the minimisations' moves
    receptor = receptor_atoms(read_heavy_atoms(protein_path), center, reach + CUTOFF_A + 4.0)
    crystal_energy = _minimised_energy(crystal, receptor, steps)
    top1_energy = _minimised_energy(top1, receptor, steps)
    return FailureRow(complex_id, verdict(top1_rmsd, crystal_energy, top1_energy), round(top1_rmsd, 4),
                      round(crystal_energy, 3), round(top1_energy, 3))


def run_failure_analysis(run: str | Path, method: str, dataset: str | Path, steps: int = MINIMIZE_STEPS) -> dict:
    """Classify every docked complex of one method of a bench run; write the table and the counts."""
    folder = method_dir(Path(run), method)
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not records:
        raise InputError(str(folder), f"no docking records of method {method!r} (run `disco bench dock` first)")
    rows = []
    for path in records:
        record = json.loads(path.read_text())
        complex_id = record.get("id", path.stem)
        if record.get("status") != "ok" or not record.get("rmsd"):
            # docking failed (no pose): a miss, as `disco bench dock` counts it, that neither verdict explains
            rows.append(FailureRow(complex_id, "failed", error=str(record.get("error") or "no docked pose")[:500]))
            continue
        try:
            poses = Chem.SDMolSupplier(str(path.with_suffix(".sdf")), removeHs=False)
            top1 = next(iter(poses), None)
            if top1 is None:
                raise ValueError(f"{path.with_suffix('.sdf')}: no readable top-1 pose")
            complex_dir = Path(dataset) / complex_id
            crystal = read_references(complex_dir, complex_id)[0]
            rows.append(analyse_complex(complex_id, complex_dir / f"{complex_id}_protein.pdb", crystal, top1,
                                        float(record["rmsd"][0]), steps))
        except (OSError, ValueError, InputError) as exc:
            rows.append(FailureRow(complex_id, "error", error=str(exc)))
    counts = {kind: sum(r.verdict == kind for r in rows)
              for kind in ("success", "search", "scoring", "failed", "error")}
    summary = {"run": str(run), "method": method, "n": len(rows), **counts,
               "energy": "docking.physics.interaction_energy, both poses minimised", "minimize_steps": steps}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FailureRow.__dataclass_fields__))
    writer.writeheader()
    writer.writerows(asdict(r) for r in rows)
    stem = Path(run) / f"search_or_scoring-{folder.name}"
    atomic_write_text(stem.with_suffix(".csv"), buffer.getvalue())
    atomic_write_text(stem.with_suffix(".json"), json.dumps(summary, indent=2) + "\n")
    return summary
