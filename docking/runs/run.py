"""A `disco dock` run: the ligands of a request docked batch by batch, post-processed, written as OUT/<name>/
folders and recorded in OUT/summary.csv and OUT/failures.csv as each one finishes.

    jobs        the request's ligands as a stream of `DockJob`s (one protein with --ligand, or CSV rows);
                a ligand's identity is its input index, its name is made unique over the whole input
    batches     consecutive jobs of one protein, at most `batch_size`, dealt to --shard parts and torchrun
                ranks whole (docking.runs.shards), so that every ligand gets the poses a plain run
                gives it
    docking     docking.inference.ligand_docker: models, site and post-processing set up once
    report      rank 0 ends the run by writing OUT/report.html from the finished folder (docking.report.page)
    OUT         docking.runs.folder: run.json, a folder holding a run is refused unless --resume,
                which skips the ligands OUT has finished (a batch it half finished is docked again whole,
                its finished ligands not recorded twice)
    failures    a bad ligand, an unreadable protein or pocket, a failed post-processing step or an
                unwritable output fails that item only (one failures.csv row); a full disk stops the run
    torchrun    under `torchrun --nproc-per-node G`, each rank docks its batches on its own device and
                rank 0 joins the per-rank tables at the end

`DockingRun` is what both `run_docking` (the CLI) and the Python API (`docking.dock`) iterate, so the two
give the same poses for the same seed; rendering (a progress bar, the final line) is the caller's.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import torch

from disco_core.errors import DiscoError
from docking.request.dock_request import DockRequest
from docking.inference.ligand_docker import LigandDocker, LigandOutcome
from docking.request.jobs import DockJob, dock_jobs
from docking.request.ligand_stream import count_ligands
from docking.runs.outputs import write_ligand_outputs
from docking.inference.postprocess import top_pose_values
from docking.runs.folder import (check_run_folder, finish_run, finished_rows, prepare_run_folder,
                                         write_report)
from docking.runs.record import run_record
from docking.runs.tables import RunTables
from docking.runs.shards import Shard, Worker, batches, worker_share


@dataclass
class RunCounts:
    n_ok: int                   # docked by this run (all ranks together)
    n_failed: int
    out_dir: Path | None
    rank: int = 0               # torchrun rank of this process (0 reports the run)
    world_size: int = 1
    ok_before: int = 0          # finished before this run (--resume)
    failed_before: int = 0
    shard: Shard | None = None
    report: Path | None = None  # OUT/report.html when this process wrote it

    @property
    def every_item_failed(self) -> bool:
        return self.n_ok + self.ok_before == 0 and self.n_failed + self.failed_before > 0


class DockProgress(Protocol):
    """Where a run reports its progress (the CLI renders it as a progress bar)."""

    def start(self, total: int | None, label: str) -> None:
        """The run starts: `total` ligands (None when unknown)."""

    def advance(self, n_ok: int, n_failed: int) -> None:
        """One more ligand finished; the counts so far."""


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


class _OutcomeRecorder:
    """Writes each outcome into OUT: the ligand's files, then its table rows (a write failure fails it)."""

    def __init__(self, out_dir: Path, tables: RunTables, docker: LigandDocker, write_complex: bool):
        self.out_dir, self.tables, self.docker, self.write_complex = out_dir, tables, docker, write_complex

    def __call__(self, outcome: LigandOutcome) -> LigandOutcome:
        job = outcome.job
        row = {"index": job.index, "name": job.entry.name, "protein": job.protein, "ligand": job.entry.description,
               "seconds": outcome.seconds}
        try:
            if not outcome.ok:
                self.tables.failure(row, outcome.reason)
                return outcome
            try:
                write_ligand_outputs(self.out_dir, outcome.result, job.protein if self.write_complex else None,
                                     outcome.contacts)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                reason = f"{job.entry.name}: cannot write its outputs ({exc})"
                self.tables.failure(row, reason)
                return LigandOutcome(job, None, reason, outcome.seconds)
            result = outcome.result
            self.tables.success({**row, "n_poses": len(result.poses), "top_confidence": result.confidences[0],
                                 "pocket": self.docker.site_label,
                                 **top_pose_values(result, self.docker.extra_columns)})
            return outcome
        except OSError as exc:                     # a full disk, or the tables themselves: nothing more can be written
            raise DiscoError(f"{self.out_dir}: cannot record {job.entry.name} ({exc.strerror or exc})") from None


class DockingRun:
    """The ligands of a request (this process's share: its --shard part, its torchrun rank's batches, less
    what OUT finished before a --resume), docked and, with an output folder, recorded there one by one;
    iterating it yields each ligand's LigandOutcome as it is recorded. Iterate once; `counts` is set at the
    end. `jobs` replaces the request's own inputs (the Python API) and `inputs` their description in
    run.json; `distributed` False ignores torchrun's environment.

    Raises DiscoError for what stops the whole run: an unwritable output folder, an OUT holding another
    run, an unreadable model or --protein, a full disk."""

    def __init__(self, request: DockRequest, progress: DockProgress | None = None,
                 jobs: Iterable[DockJob] | None = None, inputs: dict | None = None, distributed: bool = True):
        self.request, self.progress = request, progress or _NoProgress()
        self.jobs, self.inputs, self.distributed = jobs, inputs, distributed
        self.counts: RunCounts | None = None

    def __iter__(self) -> Iterator[LigandOutcome]:
        request = self.request
        rank, world_size, local_rank = _distributed() if self.distributed else (0, 1, 0)
        worker = Worker(request.shard, rank, world_size)
        out_dir = Path(request.out) if request.out is not None else None
        if world_size > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("gloo")
        finished: dict[int, dict] = {}
        if out_dir is not None:
            try:
                out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DiscoError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
            record = run_record(request, self.inputs)
            check_run_folder(out_dir, record, request.resume)          # every rank: the same answer
            _barrier(world_size)
            if rank == 0:
                prepare_run_folder(out_dir, record, request.resume)
            _barrier(world_size)
            finished = finished_rows(out_dir) if request.resume else {}
        docker = LigandDocker(request, _device(request.device, world_size, local_rank))
        tables = record_outcome = None
        if out_dir is not None:
            tables = RunTables(out_dir, f".rank{rank}" if world_size > 1 else "", docker.extra_columns,
                               append=request.resume and world_size == 1)
            record_outcome = _OutcomeRecorder(out_dir, tables, docker, request.write_complex)
        n_ok = n_failed = 0
        try:
            self.progress.start(self._total(worker, finished), _label(worker))
            for number, batch in enumerate(batches(self.jobs if self.jobs is not None else dock_jobs(request),
                                                   request.batch_size)):
                if not worker.takes(number):
                    continue
                keep = {job.index for job in batch if job.index not in finished}
                if not keep:
                    continue
                for outcome in docker.dock_batch(batch, keep):
                    if record_outcome is not None:
                        outcome = record_outcome(outcome)
                    n_ok, n_failed = n_ok + outcome.ok, n_failed + (not outcome.ok)
                    self.progress.advance(n_ok, n_failed)
                    yield outcome
        finally:
            if tables is not None:
                tables.close()
        if world_size > 1:
            counts = torch.tensor([n_ok, n_failed])
            torch.distributed.all_reduce(counts)
            n_ok, n_failed = (int(v) for v in counts)
            if rank == 0:
                finish_run(out_dir)
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
        elif out_dir is not None:
            finish_run(out_dir)
        report = None
        if out_dir is not None and request.report and rank == 0:
            report = write_report(out_dir)
        ok_before = sum(row["status"] == "ok" for row in finished.values())
        self.counts = RunCounts(n_ok, n_failed, out_dir, rank, world_size, ok_before, len(finished) - ok_before,
                                request.shard, report)

    def _total(self, worker: Worker, finished: dict[int, dict]) -> int | None:
        """How many ligands this process docks (for a progress bar); None when unknown (a CSV, given jobs)."""
        if self.request.csv or self.jobs is not None:
            return None
        total = count_ligands(self.request.ligand)
        if total is None:
            return None
        return worker_share(total, self.request.batch_size, worker, finished)


def _barrier(world_size: int) -> None:
    if world_size > 1:
        torch.distributed.barrier()


def _label(worker: Worker) -> str:
    label = "dock" if worker.shard is None else f"dock {worker.shard}"
    return f"{label}[{worker.rank}]" if worker.world_size > 1 else label


def run_docking(request: DockRequest, progress: DockProgress | None = None) -> RunCounts:
    """Dock every ligand of the request (this process's share, see DockingRun); returns the run's counts
    (all ranks together)."""
    run = DockingRun(request, progress)
    for _ in run:
        pass
    return run.counts
