"""The Python API, `from docking import dock`: one protein against one or many ligands, for notebooks and
scripts, returning RDKit molecules and a pandas table instead of files.

It builds the same DockRequest as `disco dock` and iterates the same docking.inference.docking_run.DockingRun,
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

    from docking.inference.docking_run import DockJob

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
              (docking.inference.dock_request.DockRequest)

    A ligand that cannot be docked is a row of `failures`; options that do not fit together raise InputError,
    an unreadable protein or model DiscoError. Runs in this process only (no torchrun, no --resume).
    """
    from dataclasses import fields

    from docking.inference.dock_request import DockRequest
    from docking.inference.docking_run import DockingRun
    from docking.inference.presets import DockPreset, preset_settings
    from docking.inference.run_record import describe_input

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
    jobs, ligand_inputs = _ligand_jobs(str(protein), ligands, names)
    run = DockingRun(request, jobs=jobs, distributed=False,
                     inputs={"protein": describe_input(str(protein)), "ligands": ligand_inputs})
    return _results(list(run), None if out is None else Path(out))


def _ligand_jobs(protein: str, ligands, names: Sequence[str] | None) -> tuple[list["DockJob"], list]:
    """The jobs of `ligands` in order (a file expands to its molecules), and how run.json describes them."""
    import hashlib

    from rdkit import Chem

    from disco_core.errors import InputError
    from docking.inference.docking_run import DockJob
    from docking.inference.ligand_stream import LigandEntry, UniqueNames, stream_ligands
    from docking.inference.pipeline import as_ligand_input
    from docking.inference.run_record import describe_input

    items = [ligands] if isinstance(ligands, (str, Path, Chem.Mol)) else list(ligands)
    if names is not None and len(names) != len(items):
        raise InputError("names", f"{len(names)} name(s) for {len(items)} ligand item(s)")
    unique = UniqueNames()
    jobs: list[DockJob] = []
    described = []
    for number, item in enumerate(items):
        name = names[number] if names is not None else None
        if isinstance(item, Chem.Mol):
            title = item.GetProp("_Name").strip() if item.HasProp("_Name") else ""
            entry_name, label = unique(name or title or "ligand"), f"molecule #{number + 1}"
            try:
                entry = LigandEntry(entry_name, label, as_ligand_input(item, entry_name))
            except InputError as exc:
                entry = LigandEntry(entry_name, label, None, str(exc))
            entries = [entry]
            described.append({"molecule": hashlib.sha256(Chem.MolToMolBlock(item).encode()).hexdigest()})
        else:
            entries = list(stream_ligands(str(item), unique, name))
            described.append(describe_input(str(item)))
        jobs += [DockJob(len(jobs) + k, protein, entry) for k, entry in enumerate(entries)]
    return jobs, described


def _results(outcomes: list, out_dir: Path | None) -> DockingResults:
    import pandas as pd
    from rdkit import Chem

    from docking.inference.outputs import pose_properties

    poses, rows, failures = [], [], []
    for outcome in outcomes:
        job, result = outcome.job, outcome.result
        if result is None:
            failures.append({"index": job.index, "name": job.entry.name, "ligand": job.entry.description,
                             "reason": outcome.reason})
            continue
        per_pose = {key: values for key, values in result.extras.items()
                    if isinstance(values, list) and len(values) == len(result.poses)}
        for rank, pose in enumerate(result.poses):
            mol = Chem.Mol(pose)
            mol.SetProp("_Name", job.entry.name)
            mol.SetProp("name", job.entry.name)
            mol.SetIntProp("index", job.index)
            for key, value in pose_properties(result, rank).items():
                mol.SetProp(key, value)
            poses.append(mol)
            rows.append({"index": job.index, "name": job.entry.name, "rank": rank + 1,
                         "confidence": result.confidences[rank],
                         **{key: values[rank] for key, values in per_pose.items()},
                         "latent_picks": " ".join(str(p) for p in result.picks[rank]),
                         "sample_index": result.samples[rank], "site": result.sites[rank], "mol": mol})
    table = pd.DataFrame(rows, columns=None if rows else ["index", "name", "rank", "confidence", "latent_picks",
                                                          "sample_index", "site", "mol"])
    return DockingResults(poses, table, pd.DataFrame(failures, columns=["index", "name", "ligand", "reason"]),
                          out_dir)
