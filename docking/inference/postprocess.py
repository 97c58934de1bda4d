"""After sampling: Vina rescoring, OpenMM relaxation, PoseBusters checks and re-ranking of one
ligand's poses (`disco dock --rescore vina --relax --check --rank-by ...`).

Order: Vina's local optimisation and score first (the score belongs to the pose Vina optimised),
then OpenMM relaxation (physically valid geometry), then the checks on the poses that are written;
finally the ranking: by confidence or Vina score, with the poses that pass every check moved ahead
of those that fail (a user wants the best *valid* pose as rank 1; `--no-valid-first` turns it off).
Every step records its numbers per pose in `DockResult.extras` (SD properties and summary columns);
a ligand that a step cannot handle keeps its poses from before that step and records why.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rdkit import Chem

from disco_core.errors import InputError
from docking.inference.pipeline import DockResult
from docking.inference.ranking import pose_order
from docking.request.presets import SEARCH_RANKINGS

RELAX_SHELL_A = 10.0  # protein residues with an atom this close to a pose take part in its relaxation



@dataclass
class PostprocessOptions:
    rescore: str | None = None          # "vina": Vina score after Vina's local optimisation
    relax: bool = False                 # OpenMM minimisation in the pocket
    relax_solvent: str = "vacuum"       # or "obc2" (implicit solvent; slower on CPU)
    check: bool = False                 # PoseBusters "dock" checks with the protein
    rank_by: str = "confidence"         # or "vina" (needs --rescore vina), or "energy" / "intermolecular" (physics),
                                        # or "scorer" (the pipeline's learned pose scorer: its confidences)
    valid_first: bool = True            # with check: poses passing every check are ranked first
    work_dir: Path | None = None

    @property
    def active(self) -> bool:
        return bool(self.rescore or self.relax or self.check or self.rank_by != "confidence")


def _heavy_rmsd(a: Chem.Mol, b: Chem.Mol) -> float:
    diff = a.GetConformer().GetPositions() - b.GetConformer().GetPositions()
    return float(np.sqrt((diff ** 2).sum(1).mean()))


class PosePostprocessor:
    """Holds what is prepared once per protein (Vina receptor PDBQT, OpenMM pocket)."""

    def __init__(self, options: PostprocessOptions):
        """`options` come from a checked DockRequest (docking.request.dock_request) or the bench's own."""
        self.options = options
        self._tmp = tempfile.TemporaryDirectory(prefix="disco-post-") if options.work_dir is None else None
        self.work_dir = Path(options.work_dir or self._tmp.name)

    # ---- steps -----------------------------------------------------------------------------------
    def _rescore_vina(self, result: DockResult, protein_path: str) -> DockResult:
        from docking.physics.vina import vina_score
        from docking.physics.vina_receptor import prepare_receptor

        receptor = prepare_receptor(protein_path, self.work_dir / "vina")
        scores, poses, shifts = [], [], []
        for pose in result.poses:
            try:
                score, optimised = vina_score(receptor, pose, local_optimize=True, name=result.name)
            except InputError:
                score, optimised = math.nan, pose
            scores.append(score)
            shifts.append(_heavy_rmsd(pose, optimised))
            poses.append(_keep_props(pose, optimised))
        extras = {**result.extras, "vina_score_kcal_mol": scores, "vina_shift_A": shifts}
        return replace(result, poses=poses, extras=extras)

    def _relax(self, result: DockResult, protein_path: str) -> DockResult:
        """Relax every pose of this ligand in the protein cropped to the residues within RELAX_SHELL_A
        of any of its pose atoms (pocket or blind docking alike). A pose whose topology or stereo would
        change keeps its unrelaxed form. Why crop per ligand rather than once per pocket: the nonbonded
        cutoff is 10 Å, so residues beyond the shell never touch the ligand, while a sphere around the
        site large enough for every pose holds many more atoms, and every minimiser step pays for each
        of them (the price: the crop is prepared once per ligand rather than once per pocket)."""
        from docking.physics.relax import PocketRelaxer

        points = np.concatenate([pose.GetConformer().GetPositions() for pose in result.poses])
        relaxer = PocketRelaxer(protein_path, points, radius=RELAX_SHELL_A, solvent=self.options.relax_solvent)
        start = time.perf_counter()
        try:
            relaxed = relaxer.relax(result.poses, result.name)
        except InputError as exc:
            n = len(result.poses)
            return replace(result, extras={**result.extras, "relaxed": [False] * n,
                                           "relax_error": [exc.reason] * n})
        poses, kept = [], []
        for pose, outcome in zip(result.poses, relaxed):
            ok = outcome.topology_preserved
            poses.append(_keep_props(pose, outcome.mol) if ok else pose)
            kept.append(ok)
        extras = {**result.extras, "relaxed": kept,
                  "energy_before_kj_mol": [r.energy_before for r in relaxed],
                  "energy_after_kj_mol": [r.energy_after if k else r.energy_before for r, k in zip(relaxed, kept)],
                  "relax_rmsd_A": [r.rmsd if k else 0.0 for r, k in zip(relaxed, kept)],
                  "relax_seconds": [(time.perf_counter() - start) / len(relaxed)] * len(relaxed)}
        return replace(result, poses=poses, extras=extras)

    def _check(self, result: DockResult, protein_path: str) -> DockResult:
        from docking.physics.posebusters_checks import check_poses

        table = check_poses(result.poses, protein_path)
        return replace(result, extras={**result.extras, "pb_valid": [bool(v) for v in table["pb_valid"]],
                                       "pb_failed": [str(v) for v in table["pb_failed"]]})

    # ---- all -------------------------------------------------------------------------------------
    def apply(self, result: DockResult, protein_path: str) -> DockResult:
        if (self.options.rescore or self.options.relax) and "interaction_energy" in result.extras:
            # the guidance energies belong to the sampled pose, not to the pose Vina / OpenMM will write
            extras = dict(result.extras)
            for key in ("interaction_energy", "intermolecular_energy", "vina_form_score"):
                if key in extras:
                    extras[f"sampled_{key}"] = extras.pop(key)
            result = replace(result, extras=extras)
        if self.options.rescore == "vina":
            result = self._rescore_vina(result, protein_path)
        if self.options.relax:
            result = self._relax(result, protein_path)
        if self.options.check:
            result = self._check(result, protein_path)
        valid = result.extras["pb_valid"] if self.options.check and self.options.valid_first else None
        return rerank(result, pose_order(self.options.rank_by, result.extras, result.confidences, valid, result.name))


def _keep_props(source: Chem.Mol, target: Chem.Mol) -> Chem.Mol:
    """`target`'s coordinates on a copy of `source` (same atoms, order and properties)."""
    out = Chem.Mol(source)
    conformer = out.GetConformer()
    for i, xyz in enumerate(target.GetConformer().GetPositions()):
        conformer.SetAtomPosition(i, xyz.tolist())
    return out


def rerank(result: DockResult, order: list[int]) -> DockResult:
    """The result with its poses and every per-pose list in `order` (indices, best first: ranking.pose_order)."""

    def pick(values: list) -> list:
        return [values[i] for i in order]

    extras = {key: pick(values) for key, values in result.extras.items()}
    return replace(result, poses=pick(result.poses), confidences=pick(result.confidences), picks=pick(result.picks),
                   samples=pick(result.samples), sites=pick(result.sites), extras=extras)


def summary_columns(options: PostprocessOptions) -> list[str]:
    """Columns the summary gains (values of the top-ranked pose)."""
    columns = (["interaction_energy", "intermolecular_energy", "vina_form_score"]
               if options.rank_by in SEARCH_RANKINGS else [])
    if options.rescore == "vina":
        columns += ["vina_score_kcal_mol"]
    if options.relax:
        columns += ["relaxed", "energy_before_kj_mol", "energy_after_kj_mol", "relax_rmsd_A", "relax_seconds",
                    "relax_error"]
    if options.check:
        columns += ["pb_valid", "pb_failed"]
    return columns


def top_pose_values(result: DockResult, columns: list[str]) -> dict:
    return {c: result.extras[c][0] for c in columns if c in result.extras and result.extras[c]}
