"""What `disco dock` writes: per ligand OUT/<name>/ with rank1.sdf ... rankN.sdf and poses.sdf (all
poses, best first, SD properties on each), interactions.csv (the poses' protein contacts, unless
--no-interactions; docking.inference.interactions), optionally complex_rank1.pdb (protein + top pose); per run
OUT/summary.csv and OUT/failures.csv, appended one row per ligand as the run goes (an interrupted run
keeps what it finished), and OUT/report.html (docking.inference.report). Every file of a ligand is written
atomically."""

from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path

from rdkit import Chem

from disco_core.io import atomic_write_text
from docking.inference.interactions import PoseInteraction, interactions_csv_text
from docking.inference.pipeline import DockResult

SUMMARY_COLUMNS = ["index", "name", "status", "n_poses", "top_confidence", "seconds", "protein", "ligand", "pocket"]
FAILURE_COLUMNS = ["index", "name", "protein", "ligand", "reason"]

logger = logging.getLogger(__name__)


def _format(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    return str(value)


def pose_properties(result: DockResult, rank: int) -> dict[str, str]:
    """SD properties of the pose at `rank` (0-based) of a result, including any extra per-pose columns."""
    properties = {
        "rank": str(rank + 1),
        "confidence": _format(result.confidences[rank]),
        "latent_picks": _format(result.picks[rank]),
        "sample_index": str(result.samples[rank]),
        "site": result.sites[rank],
    }
    for key, values in result.extras.items():
        if isinstance(values, list) and len(values) == len(result.poses):
            properties[key] = _format(values[rank])
    return properties


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
    """The ligand's folder; interactions.csv when `interactions` (one list of contacts per pose) is given,
    and none left from an earlier run into the same folder when it is not."""
    folder = out_dir / result.name
    folder.mkdir(parents=True, exist_ok=True)
    properties = [pose_properties(result, rank) for rank in range(len(result.poses))]
    for rank, (mol, props) in enumerate(zip(result.poses, properties)):
        atomic_write_text(folder / f"rank{rank + 1}.sdf", sdf_text([mol], [props]))
    atomic_write_text(folder / "poses.sdf", sdf_text(result.poses, properties))
    if protein_path is not None and result.poses:
        atomic_write_text(folder / "complex_rank1.pdb", complex_pdb_text(protein_path, result.poses[0]))
    if interactions is not None:
        atomic_write_text(folder / "interactions.csv", interactions_csv_text(interactions))
    else:
        (folder / "interactions.csv").unlink(missing_ok=True)


class RunTables:
    """summary.csv and failures.csv of one process (`suffix` = '.rankN' under torchrun), appended
    and flushed row by row so that an interrupted run keeps every finished ligand."""

    def __init__(self, out_dir: Path, suffix: str = "", extra_columns: list[str] | None = None):
        self.summary_path = out_dir / f"summary{suffix}.csv"
        self.failures_path = out_dir / f"failures{suffix}.csv"
        self.columns = SUMMARY_COLUMNS + list(extra_columns or [])
        self._summary = self._open(self.summary_path, self.columns)
        self._failures = self._open(self.failures_path, FAILURE_COLUMNS)
        self.n_ok = self.n_failed = 0

    @staticmethod
    def _open(path: Path, columns: list[str]):
        handle = path.open("w", newline="")
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        handle.flush()
        return handle, writer

    def _write(self, table, row: dict) -> None:
        handle, writer = table
        writer.writerow({key: _format(value) for key, value in row.items()})
        handle.flush()

    def success(self, row: dict) -> None:
        self.n_ok += 1
        self._write(self._summary, {"status": "ok", **row})

    def failure(self, row: dict, reason: str) -> None:
        """Record a skipped item and log it (a warning, one line: the item and the reason)."""
        logger.warning("skipped %s", reason)
        self.n_failed += 1
        self._write(self._summary, {"status": "failed", "n_poses": 0, **row})
        self._write(self._failures, {**row, "reason": reason})

    def close(self) -> None:
        for handle, _ in (self._summary, self._failures):
            handle.close()


def merge_rank_tables(out_dir: Path, world_size: int) -> None:
    """torchrun: join summary.rankN.csv / failures.rankN.csv into summary.csv / failures.csv, in input order."""
    for stem in ("summary", "failures"):
        rows, header = [], None
        parts = [out_dir / f"{stem}.rank{rank}.csv" for rank in range(world_size)]
        for part in parts:
            with part.open(newline="") as handle:
                reader = csv.DictReader(handle)
                header = header or reader.fieldnames
                rows += list(reader)
        rows.sort(key=lambda row: int(row["index"]))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header or [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(out_dir / f"{stem}.csv", buffer.getvalue())
        for part in parts:
            part.unlink()
