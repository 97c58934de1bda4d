"""A `disco dock` run: the ligands of a request docked protein by protein, post-processed, written as
OUT/<name>/ folders and recorded in OUT/summary.csv and OUT/failures.csv.

    jobs        the request's ligands as a stream of `DockJob`s (one protein with --ligand, or CSV rows)
    chunks      consecutive jobs of one protein, at most `batch_size` ligands, docked together
    failures    a bad ligand, an unreadable protein or pocket, a failed post-processing step or an
                unwritable output fails that item only (one failures.csv row); a full disk stops the run
    torchrun    under `torchrun --nproc-per-node G`, rank r docks items r, r + G, ... on its own device and
                rank 0 merges the per-rank tables at the end
    contacts    each written pose's protein contacts (ProLIF; docking.inference.interactions), unless
                `interactions` is off; a ligand whose contacts cannot be computed keeps its poses and says why
    report      rank 0 ends the run by writing OUT/report.html from the files on disk (docking.inference.report)

`run_docking` returns the counts; rendering (a progress bar, the final summary line) is the caller's.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

import torch

from data_prep.inputs import csv_jobs
from disco_core.errors import DiscoError, InputError
from docking.inference.interactions import InteractionProfiler, annotate_interactions
from docking.inference.given_sites import (Pocket, parse_residue_list, pocket_from_center, pocket_from_ligand_file,
                                           pocket_from_residues)
from docking.inference.ligand_stream import LigandEntry, UniqueNames, count_ligands, stream_ligands
from docking.inference.outputs import RunTables, merge_rank_tables, write_ligand_outputs
from docking.inference.pipeline import DockingPipeline, DockOptions, sampling_rank
from docking.inference.postprocess import PosePostprocessor, PostprocessOptions, summary_columns, top_pose_values
from docking.inference.presets import DEFAULT, physics_for
from docking.inference.report import write_run_report


@dataclass
class DockRequest:
    """What to dock and how: the options of `disco dock` (same names); the defaults are `disco dock`'s."""
    out: str | Path
    protein: str | None = None             # with ligand; or csv
    ligand: str | None = None
    name: str | None = None
    csv: str | None = None
    pocket_center: list[float] | None = None
    pocket_residues: str | None = None      # "A:45,A:99"
    autobox_ligand: str | None = None
    pocket_radius: float | None = None
    samples: int = 10
    steps: int = DEFAULT.steps
    seed: int = 0
    batch_size: int = 4
    guidance: float = 0.0
    physics_guidance: float = DEFAULT.physics_guidance
    refine_rounds: int = DEFAULT.refine_rounds
    energy: str = DEFAULT.energy
    blind_sites: int = 4
    rescore: str | None = None
    relax: bool = False
    relax_solvent: str = "vacuum"
    check: bool = False
    valid_first: bool = True
    rank_by: str = DEFAULT.rank_by
    model: str | None = None
    device: str = "auto"
    write_complex: bool = False
    max_residues: int = 10_000
    interactions: bool = True               # ProLIF contacts of every pose (SD property, interactions.csv)
    report: bool = True                     # OUT/report.html at the end of the run


@dataclass
class RunCounts:
    n_ok: int
    n_failed: int
    out_dir: Path
    rank: int = 0               # torchrun rank of this process (0 reports the run)
    world_size: int = 1
    report: Path | None = None  # OUT/report.html when this process wrote it


class DockProgress(Protocol):
    """Where a run reports its progress (the CLI renders it as a progress bar)."""

    def start(self, total: int | None, label: str) -> None:
        """The run starts: `total` ligands (None when unknown)."""

    def advance(self, n_ok: int, n_failed: int) -> None:
        """One more ligand finished; the counts so far."""


@dataclass
class DockJob:
    index: int
    protein: str
    entry: LigandEntry


def dock_jobs(request: DockRequest) -> Iterator[DockJob]:
    """The request's ligands in input order, each with its protein (a bad one carries its error)."""
    names = UniqueNames()
    index = 0
    if request.csv:
        pairs = [(job.protein_path, job.ligand, job.name, job.input_error)
                 for job in csv_jobs(request.csv, allow_duplicate_names=True)]
        if not pairs:
            raise InputError(request.csv, "the CSV has a header but no rows to dock")
    else:
        pairs = [(request.protein, request.ligand, request.name, None)]
    for protein, ligand, name, error in pairs:
        if error:
            yield DockJob(index, protein, LigandEntry(names(name or "ligand"), ligand, None, f"{name}: {error}"))
            index += 1
            continue
        for entry in stream_ligands(ligand, names, name):
            yield DockJob(index, protein, entry)
            index += 1


def ligand_total(request: DockRequest) -> int | None:
    """How many ligands the request holds (for a progress bar); None for a CSV."""
    if request.csv:
        return None
    return count_ligands(request.ligand)


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


def _device(requested: str, world_size: int, local_rank: int) -> str:
    if world_size > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank}"
    return requested


class _NoProgress:
    def start(self, total: int | None, label: str) -> None:
        pass

    def advance(self, n_ok: int, n_failed: int) -> None:
        pass


class _ChunkDocker:
    """Docks the ligands of one protein together and records each ligand's outcome in the tables."""

    def __init__(self, request: DockRequest, pipeline: DockingPipeline, pocket: Pocket | None,
                 residues: list[str] | None, post: PosePostprocessor | None, extra_columns: list[str],
                 tables: RunTables, progress: DockProgress, interactions: InteractionProfiler | None = None):
        self.request, self.pipeline, self.pocket, self.residues = request, pipeline, pocket, residues
        self.post, self.extra_columns, self.tables, self.progress = post, extra_columns, tables, progress
        self.interactions = interactions
        self.out_dir = Path(request.out)
        self.site_label = (pocket.source if pocket is not None else
                           "residues:" + ",".join(residues) if residues is not None else "blind")

    def __call__(self, chunk: list[DockJob]) -> None:
        start = time.perf_counter()
        protein = chunk[0].protein
        try:
            site = self.pocket
            if self.residues is not None:
                site = pocket_from_residues(self.pipeline.receptor(protein), self.residues,
                                            self.request.pocket_radius, protein)
            valid = [job for job in chunk if not job.entry.error]
            results = dict(zip([job.index for job in valid],
                               self.pipeline.dock_many(protein, [(j.entry.name, j.entry.ligand) for j in valid], site)))
        except DiscoError as exc:          # the protein or its pocket: every ligand of the chunk fails
            results = {job.index: exc for job in chunk}
        share = (time.perf_counter() - start) / len(chunk)
        for job in chunk:
            self.record(job, results.get(job.index), share)
            self.progress.advance(self.tables.n_ok, self.tables.n_failed)

    def record(self, job: DockJob, result, share: float) -> None:
        """Post-process, write and record one ligand's result (or its failure)."""
        row = {"index": job.index, "name": job.entry.name, "protein": job.protein, "ligand": job.entry.description}
        if job.entry.error:
            self.tables.failure({**row, "seconds": 0.0}, f"{job.entry.name}: {job.entry.error}")
            return
        if isinstance(result, Exception):
            self.tables.failure({**row, "seconds": share}, str(result))
            return
        extra_start = time.perf_counter()
        if self.post is not None:
            try:
                result = self.post.apply(result, job.protein)
            except DiscoError as exc:
                self.tables.failure({**row, "seconds": share}, str(exc))
                return
        contacts = None
        if self.interactions is not None:
            result, contacts = annotate_interactions(self.interactions, result, job.protein)
        seconds = share + time.perf_counter() - extra_start
        try:
            write_ligand_outputs(self.out_dir, result, job.protein if self.request.write_complex else None,
                                 contacts)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):   # nothing more can be written
                raise DiscoError(f"{self.out_dir}: disk full while writing {job.entry.name} "
                                 f"({exc.strerror})") from None
            self.tables.failure({**row, "seconds": share}, f"{job.entry.name}: cannot write its outputs ({exc})")
            return
        self.tables.success({**row, "n_poses": len(result.poses), "top_confidence": result.confidences[0],
                             "seconds": seconds, "pocket": self.site_label,
                             **top_pose_values(result, self.extra_columns)})


def run_docking(request: DockRequest, progress: DockProgress | None = None) -> RunCounts:
    """Dock every ligand of the request (this rank's share under torchrun); returns the run's counts (all
    ranks together). Raises DiscoError for what stops the whole run: an unwritable output folder, an
    unreadable model or --protein, a full disk."""
    progress = progress or _NoProgress()
    rank, world_size, local_rank = _distributed()
    out_dir = Path(request.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiscoError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    if world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")

    pocket = None
    if request.pocket_center is not None:
        pocket = pocket_from_center(request.pocket_center, request.pocket_radius)
    elif request.autobox_ligand:
        pocket = pocket_from_ligand_file(request.autobox_ligand, request.pocket_radius)
    residues = parse_residue_list(request.pocket_residues) if request.pocket_residues else None

    physics = physics_for(request.physics_guidance, request.refine_rounds, request.rank_by)
    options = DockOptions(model=request.model, samples=request.samples, steps=request.steps, seed=request.seed,
                          device=_device(request.device, world_size, local_rank), guidance_weight=request.guidance,
                          blind_sites=request.blind_sites, max_residues=request.max_residues,
                          physics=physics,
                          rank_by=sampling_rank(request.rank_by, physics is not None),
                          energy=request.energy)
    pipeline = DockingPipeline(options)
    if request.protein:
        pipeline.receptor(request.protein)     # an unreadable protein stops here, once, with its reason
    post_options = PostprocessOptions(rescore=request.rescore, relax=request.relax,
                                      relax_solvent=request.relax_solvent, check=request.check,
                                      rank_by=request.rank_by, valid_first=request.valid_first)
    post = PosePostprocessor(post_options) if post_options.active else None
    extra_columns = summary_columns(post_options) + (["interactions", "interactions_error"] if request.interactions
                                                     else [])
    interactions = InteractionProfiler() if request.interactions else None
    tables = RunTables(out_dir, f".rank{rank}" if world_size > 1 else "", extra_columns)
    dock_chunk = _ChunkDocker(request, pipeline, pocket, residues, post, extra_columns, tables, progress,
                              interactions)
    try:
        progress.start(ligand_total(request) if world_size == 1 else None,
                       f"dock[{rank}]" if world_size > 1 else "dock")
        chunk: list[DockJob] = []
        for job in dock_jobs(request):
            if job.index % world_size != rank:
                continue
            if chunk and (job.protein != chunk[0].protein or len(chunk) >= request.batch_size):
                dock_chunk(chunk)
                chunk = []
            chunk.append(job)
        if chunk:
            dock_chunk(chunk)
    finally:
        tables.close()
    n_ok, n_failed = tables.n_ok, tables.n_failed
    if world_size > 1:
        counts = torch.tensor([n_ok, n_failed])
        torch.distributed.all_reduce(counts)
        n_ok, n_failed = (int(v) for v in counts)
        if rank == 0:
            merge_rank_tables(out_dir, world_size)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    report = None
    if request.report and rank == 0:
        try:
            report = write_run_report(out_dir)
        except OSError as exc:
            raise DiscoError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
    return RunCounts(n_ok, n_failed, out_dir, rank, world_size, report)
