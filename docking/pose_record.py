"""One written pose's record: what `disco dock` stores as SD properties on each pose of OUT/<name>/poses.sdf
(and rankN.sdf), what the Python API puts on its molecules and table, and what the report reads back. One
typed record, so that the writer, the API and the reader agree on every name without listing them again.

    rank, confidence, latent_picks, sample_index, site   every pose has them
    values                                               the run's per-pose numbers and notes by name (the
                                                         DockResult's extras): interaction_energy,
                                                         intermolecular_energy, vina_score_kcal_mol, pb_valid,
                                                         relaxed, interactions, ... (VALUE_LABELS names those
                                                         the report shows)

A blind run also writes OUT/<name>/sites.csv, the candidate sites (docking.inference.site_search.CandidateSite)
with which of them the written poses came from: SITE_COLUMNS, one row per site, best first; a pose's `site` is
the row's `site`.

Torch-free and engine-free: the report imports it without the models.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rdkit import Chem

# per-pose values the report's pose table shows, in this order, with their labels
VALUE_LABELS = {"interaction_energy": "energy (kcal/mol)", "intermolecular_energy": "intermolecular (kcal/mol)",
                "vina_form_score": "intermolecular / (1 + 0.0585 Nrot)",
                "sampled_interaction_energy": "sampled energy",
                "sampled_intermolecular_energy": "sampled intermolecular",
                "vina_score_kcal_mol": "Vina (kcal/mol)"}
CHECK_LABELS = {"confidence": "confidence", "pb_valid": "PoseBusters", "relaxed": "relaxed"}


def format_value(value: Any) -> str:
    """A value as the SD properties and the tables write it (floats to 4 decimals, sequences space-separated)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    return str(value)


@dataclass
class PoseRecord:
    """The record of the pose at `rank` (1-based) of a docked ligand."""
    rank: int
    confidence: float                        # calibrated P(RMSD < 2 A), NaN without a confidence model
    latent_picks: tuple[int, ...]            # pointer-latent picks (index into [ligand atoms; residues])
    sample_index: int                        # the pose's sample before ranking
    site: str                                # the pocket / candidate site it was docked at
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, result, index: int) -> "PoseRecord":
        """The record of pose `index` (0-based) of a DockResult (docking.inference.pipeline)."""
        return cls(rank=index + 1, confidence=result.confidences[index], latent_picks=tuple(result.picks[index]),
                   sample_index=result.samples[index], site=result.sites[index],
                   values={key: per_pose[index] for key, per_pose in result.extras.items()})

    def sd_properties(self) -> dict[str, str]:
        """The SD properties written on the pose, core fields first."""
        return {"rank": str(self.rank), "confidence": format_value(self.confidence),
                "latent_picks": format_value(self.latent_picks), "sample_index": str(self.sample_index),
                "site": self.site, **{key: format_value(value) for key, value in self.values.items()}}

    def table_row(self) -> dict[str, Any]:
        """The record as one row of the Python API's table (numbers as numbers)."""
        return {"rank": self.rank, "confidence": self.confidence, **self.values,
                "latent_picks": format_value(self.latent_picks), "sample_index": self.sample_index, "site": self.site}


def read_pose_records(path: str | Path) -> Iterator[tuple[Chem.Mol | None, dict[str, str]]]:
    """Each record of a poses SDF read by RDKit (unsanitised, hydrogens kept, as written): the molecule, or None
    where RDKit cannot read it, and its SD properties as the strings of the file."""
    supplier = Chem.SDMolSupplier(str(path), sanitize=False, removeHs=False)
    for mol in supplier:
        if mol is None:
            yield None, {}
            continue
        yield mol, {name: mol.GetProp(name) for name in mol.GetPropNames()}


SITES_FILE = "sites.csv"
SITE_COLUMNS = ("rank", "site", "center_x", "center_y", "center_z", "score", "volume_A3", "docked", "poses",
                "best_pose_rank", "residues")


def sites_csv_text(candidate_sites, pose_sites: list[str]) -> str:
    """OUT/<name>/sites.csv of a blind run: each candidate site (best first; rank, label, centre in A, the
    finder's score, the pocket's volume in A^3, docked or not, how many of the written poses came from it and
    the best rank among them, the residues lining it, space-separated) for poses whose sites are `pose_sites`
    (rank order)."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=SITE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for site in candidate_sites:
        ranks = [rank for rank, label in enumerate(pose_sites, start=1) if label == site.label]
        writer.writerow({"rank": site.rank, "site": site.label,
                         **{f"center_{axis}": f"{value:.3f}" for axis, value in zip("xyz", site.center)},
                         "score": f"{site.score:.1f}", "volume_A3": f"{site.volume_A3:.1f}", "docked": site.docked,
                         "poses": len(ranks), "best_pose_rank": ranks[0] if ranks else "",
                         "residues": " ".join(site.residues)})
    return table.getvalue()


def read_sites_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a sites.csv as written (strings)."""
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))
