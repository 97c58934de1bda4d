"""The Python API, `from docking import dock`: one protein against one or many ligands, for notebooks and
scripts, returning RDKit molecules and a pandas table instead of files.

It builds the same DockRequest as `disco dock` and iterates the same docking.runs.run.DockingRun,
so for the same seed, batch size and options it gives the CLI's poses (and, with out=, writes the CLI's
files). Everything heavy (torch, RDKit, pandas, the models) is imported when `dock` is called, so that
`import docking` stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, Union

if TYPE_CHECKING:
    import pandas as pd
    from rdkit import Chem

    Ligand = Union[str, Path, Chem.Mol]

# options `dock` takes itself rather than passing them on to the DockRequest
_NOT_OPTIONS = {"protein", "ligand", "name", "csv", "out", "shard", "resume"}


@dataclass
class DockingResults:
    """What `dock` returns.

    poses     every pose of every docked ligand, ligands in input order, each ligand's poses best first; an
              RDKit Mol carrying the SD properties `disco dock` writes (rank, confidence, interaction_energy,
              intermolecular_energy, latent_picks, sample_index, site, ...) plus the ligand's name (also its
              _Name) and input index
    table     one row per pose, in the order of `poses`: index, name, rank, confidence, the per-pose numbers
              (interaction_energy, intermolecular_energy, vina_score_kcal_mol, pb_valid, ...), latent_picks,
              sample_index, site, and the pose itself in column `mol`; `table[table["rank"] == 1]` is one row
              per ligand
    failures  one row per ligand that could not be docked: index, name, ligand, reason
    out_dir   where the files were written (out=), else None
    """
    poses: list["Chem.Mol"]
    table: "pd.DataFrame"
    failures: "pd.DataFrame"
    out_dir: Path | None = None


def dock(protein: str | Path, ligands: "Ligand | Sequence[Ligand]", *, names: Sequence[str] | None = None,
         out: str | Path | None = None, fast: bool = False, **options: Any) -> DockingResults:
    """Dock `ligands` into `protein` (a PDB or mmCIF file).

    ligands   a SMILES string, a file (SDF with one or many records, MOL2, .smi list), an RDKit Mol, or a
              list of these; a file contributes each of its molecules
    names     one name per item of `ligands` (default: the file's titles, the Mol's _Name, else "ligand"),
              made unique and file-safe as `disco dock` does
    out       an output folder: also write what `disco dock --out` writes (refused if it holds a run)
    fast      `disco dock --fast`'s setting instead of the default
    options   `disco dock`'s options by their Python names: samples=10, seed=0, batch_size=4, device="auto",
              pocket_center=(x, y, z), pocket_residues="A:45,A:99", autobox_ligand=FILE, pocket_radius,
              steps, physics_guidance, refine_rounds, refine_chains, random_starts, energy, rank_by, guidance,
              blind_sites, rescore="vina", relax, relax_solvent, check, valid_first, model=DIR, write_complex, max_residues
              (docking.request.dock_request.DockRequest)

    A ligand that cannot be docked is a row of `failures`; options that do not fit together raise InputError,
    an unreadable protein or model DiscoError. Runs in this process only (no torchrun, no --resume).
    """
    from dataclasses import fields

    from docking.request.dock_request import DockRequest
    from docking.runs.run import DockingRun
    from docking.request.presets import DockPreset, preset_settings
    from docking.request.jobs import describe_input, ligand_jobs

    allowed = {field.name for field in fields(DockRequest)} - _NOT_OPTIONS
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"dock() got unknown option(s) {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(sorted(allowed))})")
    tuned = {name: options.pop(name, None) for name in DockPreset.__dataclass_fields__}
    settings = preset_settings(fast, options.get("rescore"), options.get("relax", False), **tuned)
    if options.get("pocket_center") is not None:
        options["pocket_center"] = [float(v) for v in options["pocket_center"]]
    for name in ("autobox_ligand", "model"):
        if options.get(name) is not None:
            options[name] = str(options[name])
    request = DockRequest(out=out, protein=str(protein), **settings, **options)
    if tuned["rank_by"] == "scorer":      # asked for by name: no fallback to the energy
        from docking.inference.model_folder import check_pose_scorer

        check_pose_scorer(request.model)
    jobs, ligand_inputs = ligand_jobs(str(protein), ligands, names)
    run = DockingRun(request, jobs=jobs, distributed=False,
                     inputs={"protein": describe_input(str(protein)), "ligands": ligand_inputs})
    return _results(list(run), None if out is None else Path(out))


def _results(outcomes: list, out_dir: Path | None) -> DockingResults:
    import pandas as pd
    from rdkit import Chem

    from docking.pose_record import PoseRecord

    poses, rows, failures = [], [], []
    for outcome in outcomes:
        job, result = outcome.job, outcome.result
        if result is None:
            failures.append({"index": job.index, "name": job.entry.name, "ligand": job.entry.description,
                             "reason": outcome.reason})
            continue
        for rank, pose in enumerate(result.poses):
            record = PoseRecord.of(result, rank)
            mol = Chem.Mol(pose)
            mol.SetProp("_Name", job.entry.name)
            mol.SetProp("name", job.entry.name)
            mol.SetIntProp("index", job.index)
            for key, value in record.sd_properties().items():
                mol.SetProp(key, value)
            poses.append(mol)
            rows.append({"index": job.index, "name": job.entry.name, **record.table_row(), "mol": mol})
    table = pd.DataFrame(rows, columns=None if rows else ["index", "name", "rank", "confidence", "latent_picks",
                                                          "sample_index", "site", "mol"])
    return DockingResults(poses, table, pd.DataFrame(failures, columns=["index", "name", "ligand", "reason"]),
                          out_dir)
