"""What a docking request docks with: its models, binding site and post-processing, set up once, and how a
batch of its ligands becomes one outcome per ligand (poses, or the reason it failed).

The batch goes through the score model together (docking.inference.pipeline.DockingPipeline.dock_many);
then each ligand is post-processed (Vina, OpenMM, PoseBusters, re-ranking) on its own and its written poses'
protein contacts computed (ProLIF, docking.contacts.profiler, unless `interactions` is off; a ligand
whose contacts cannot be computed keeps its poses and says why), so that a run can record it before the next
one starts. A ligand that cannot be prepared, or a protein or pocket that
cannot be read, fails its ligands only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from disco_core.errors import DiscoError, InputError
from docking.request.dock_request import DockRequest
from docking.contacts.profiler import InteractionProfiler, PoseInteraction, interaction_summary
from docking.inference.given_sites import (Pocket, parse_residue_list, pocket_from_center, pocket_from_ligand_file,
                                           pocket_from_residues)
from docking.inference.pipeline import DockingPipeline, DockOptions, DockResult
from docking.inference.ranking import sampling_rank
from docking.inference.postprocess import PosePostprocessor, PostprocessOptions, summary_columns
from docking.request.presets import physics_for

if TYPE_CHECKING:
    from docking.request.jobs import DockJob


logger = logging.getLogger(__name__)


@dataclass
class LigandOutcome:
    """One ligand of a run: its poses (`result`), or `reason` it failed; `seconds` its share of the time."""
    job: "DockJob"
    result: DockResult | None
    reason: str | None
    seconds: float
    contacts: list[list[PoseInteraction]] | None = None    # per pose, when interactions were computed

    @property
    def ok(self) -> bool:
        return self.result is not None


class LigandDocker:
    """The models, site and post-processing of one request; `dock_batch` docks a batch of its jobs."""

    def __init__(self, request: DockRequest, device: str):
        self.request = request
        self.pocket: Pocket | None = None
        if request.pocket_center is not None:
            self.pocket = pocket_from_center(request.pocket_center, request.pocket_radius)
        elif request.autobox_ligand:
            self.pocket = pocket_from_ligand_file(request.autobox_ligand, request.pocket_radius)
        self.residues = parse_residue_list(request.pocket_residues) if request.pocket_residues else None
        physics = physics_for(request.physics_guidance, request.refine_rounds, request.rank_by,
                              request.refine_chains, request.random_starts)
        self.pipeline = DockingPipeline(DockOptions(
            model=request.model, samples=request.samples, steps=request.steps, seed=request.seed, device=device,
            guidance_weight=request.guidance, blind_sites=request.blind_sites, max_residues=request.max_residues,
            physics=physics, rank_by=sampling_rank(request.rank_by, physics is not None), energy=request.energy))
        if request.protein:
            self.pipeline.receptor(request.protein)     # an unreadable protein stops here, once, with its reason
        post_options = PostprocessOptions(rescore=request.rescore, relax=request.relax,
                                          relax_solvent=request.relax_solvent, check=request.check,
                                          rank_by=request.rank_by, valid_first=request.valid_first)
        self.post = PosePostprocessor(post_options) if post_options.active else None
        self.extra_columns = summary_columns(post_options) + (["interactions", "interactions_error"]
                                                              if request.interactions else [])
        self.interactions = InteractionProfiler() if request.interactions else None
        self.site_label = (self.pocket.source if self.pocket is not None else
                           "residues:" + ",".join(self.residues) if self.residues is not None else "blind")

    def dock_batch(self, batch: list["DockJob"], keep: set[int] | None = None) -> Iterator[LigandOutcome]:
        """Dock the batch's ligands together and yield the outcome of each ligand whose index is in `keep`
        (all when None), post-processed, in batch order. The whole batch is docked even when only some of it
        is kept (a resumed batch): each ligand's poses are then those the whole batch gave it."""
        start = time.perf_counter()
        protein = batch[0].protein
        try:
            site = self.pocket
            if self.residues is not None:
                site = pocket_from_residues(self.pipeline.receptor(protein), self.residues,
                                            self.request.pocket_radius, protein)
            valid = [job for job in batch if not job.entry.error]
            docked = self.pipeline.dock_many(protein, [(job.entry.name, job.entry.ligand) for job in valid], site)
            results = dict(zip([job.index for job in valid], docked))
        except DiscoError as exc:          # the protein or its pocket: every ligand of the batch fails
            results = {job.index: exc for job in batch}
        share = (time.perf_counter() - start) / len(batch)
        for job in batch:
            if keep is None or job.index in keep:
                yield self._finish(job, results.get(job.index), share)

    def _finish(self, job: "DockJob", result, share: float) -> LigandOutcome:
        if job.entry.error:
            return LigandOutcome(job, None, f"{job.entry.name}: {job.entry.error}", 0.0)
        if isinstance(result, Exception):
            return LigandOutcome(job, None, str(result), share)
        start = time.perf_counter()
        if self.post is not None:
            try:
                result = self.post.apply(result, job.protein)
            except DiscoError as exc:
                return LigandOutcome(job, None, str(exc), share)
        contacts = None
        if self.interactions is not None:
            result, contacts = annotate_interactions(self.interactions, result, job.protein)
        return LigandOutcome(job, result, None, share + time.perf_counter() - start, contacts)


def annotate_interactions(profiler: InteractionProfiler, result: DockResult,
                          protein_path: str | Path) -> tuple[DockResult, list[list[PoseInteraction]] | None]:
    """The result with each pose's `interactions` SD property, and the contacts per pose. When ProLIF cannot
    handle the protein or the ligand, the poses carry `interactions_error` instead, a warning is logged and
    the contacts are None: interactions never fail a docked ligand."""
    try:
        per_pose = profiler.pose_interactions(protein_path, result.poses, result.name)
    except InputError as exc:
        logger.warning("%s: interactions not computed (%s)", result.name, exc)
        n = len(result.poses)
        return replace(result, extras={**result.extras, "interactions_error": [str(exc)] * n}), None
    summaries = [interaction_summary(contacts) for contacts in per_pose]
    return replace(result, extras={**result.extras, "interactions": summaries}), per_pose
