"""What `disco dock` writes per ligand: OUT/<name>/ with rank1.sdf ... rankN.sdf and poses.sdf (all poses,
best first, SD properties on each; `site` names the site a pose was docked at), sites.csv (blind runs: the
candidate sites, docking.pose_record.sites_csv_text), interactions.csv (the poses' protein contacts, unless
--no-interactions; docking.contacts.profiler), optionally complex_rank1.pdb (protein + top pose). Every file of a
ligand is written atomically, so a ligand docked again after a kill (`--resume`) replaces its half-written
files whole. The run's tables are docking.runs.tables."""

from __future__ import annotations

import io
from pathlib import Path

from rdkit import Chem

from disco_core.io import atomic_open, atomic_write_text
from docking.contacts.profiler import PoseInteraction, interactions_csv_text
from docking.inference.pipeline import DockResult
from docking.pose_record import SITES_FILE, PoseRecord, sites_csv_text


def sdf_text(mols: list[Chem.Mol], properties: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    for mol, props in zip(mols, properties):
        mol = Chem.Mol(mol)
        for key, value in props.items():
            mol.SetProp(key, value)
        writer.write(mol)
    writer.close()
    return buffer.getvalue()


def complex_pdb_text(protein_path: str | Path, ligand: Chem.Mol) -> str:
    """The protein file's ATOM/HETATM records followed by the ligand as HETATM residue LIG."""
    lines = [line for line in Path(protein_path).read_text(errors="replace").splitlines()
             if line.startswith(("ATOM", "HETATM", "TER"))]
    ligand = Chem.Mol(ligand)
    for atom in ligand.GetAtoms():
        info = Chem.AtomPDBResidueInfo(f"{atom.GetSymbol()}{atom.GetIdx() + 1}"[:4].ljust(4), residueName="LIG",
                                       residueNumber=1, chainId="L", isHeteroAtom=True)
        atom.SetMonomerInfo(info)
    ligand_lines = [line for line in Chem.MolToPDBBlock(ligand, flavor=4).splitlines()
                    if line.startswith(("HETATM", "CONECT"))]
    return "\n".join(lines + ["TER"] + ligand_lines + ["END"]) + "\n"


def write_ligand_outputs(out_dir: Path, result: DockResult, protein_path: str | Path | None = None,
                         interactions: list[list[PoseInteraction]] | None = None) -> None:
    """The ligand's folder; interactions.csv when `interactions` (one list of contacts per pose) is given, and
    sites.csv when the result has candidate sites (blind), none of either left from an earlier attempt into the
    same folder when it is not."""
    folder = out_dir / result.name
    folder.mkdir(parents=True, exist_ok=True)
    properties = [PoseRecord.of(result, rank).sd_properties() for rank in range(len(result.poses))]
    for rank, (mol, props) in enumerate(zip(result.poses, properties)):
        atomic_write_text(folder / f"rank{rank + 1}.sdf", sdf_text([mol], [props]))
    atomic_write_text(folder / "poses.sdf", sdf_text(result.poses, properties))
    if protein_path is not None and result.poses:
        atomic_write_text(folder / "complex_rank1.pdb", complex_pdb_text(protein_path, result.poses[0]))
    if interactions is not None:
        atomic_write_text(folder / "interactions.csv", interactions_csv_text(interactions))
    else:
        (folder / "interactions.csv").unlink(missing_ok=True)
    if result.candidate_sites:
        with atomic_open(folder / SITES_FILE) as handle:
            handle.write(sites_csv_text(result.candidate_sites, result.sites))
    else:
        (folder / SITES_FILE).unlink(missing_ok=True)
