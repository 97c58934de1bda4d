"""How a run's ligands are split: into batches (docked together through the score model), and the batches
dealt to the shards of a job array (`disco dock --shard I/N`) and, within a shard, to torchrun's ranks.

    batches   consecutive ligands of one protein, at most --batch-size: the same for every run of the same
              input, whatever the shard, the rank or the ligands already docked before a --resume
    shards    part I of N (1-based, I = 1..N) holds batches I-1, I-1+N, I-1+2N, ... of the input
    ranks     under torchrun with G ranks, rank r of a shard docks its batches j with j % G == r (its j-th
              batch being the shard's j-th): batch b goes to shard b % N and, in it, to rank (b // N) % G

Why batches and not single ligands are dealt: the score model's float32 rounding depends on what else is
in its batch (a few 1e-4 A), so a ligand gets exactly the poses of an unsharded, uninterrupted run only in
the batch that run gives it. Dealing whole batches keeps shards, ranks and resumed runs bit-identical to one
plain run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, TypeVar

from docking.request.shard import Shard

Job = TypeVar("Job")


@dataclass(frozen=True)
class Worker:
    """One process of a run: its shard (None: the whole input) and its torchrun rank among `world_size`."""
    shard: Shard | None = None
    rank: int = 0
    world_size: int = 1

    def takes(self, batch_number: int) -> bool:
        """Whether this process docks the input's batch `batch_number` (0-based)."""
        count = 1 if self.shard is None else self.shard.count
        if self.shard is not None and not self.shard.takes(batch_number):
            return False
        return (batch_number // count) % self.world_size == self.rank


def batches(jobs: Iterable[Job], batch_size: int, protein_of=lambda job: job.protein) -> Iterator[list[Job]]:
    """Consecutive jobs of one protein, at most `batch_size` of them, in input order."""
    batch: list[Job] = []
    for job in jobs:
        if batch and (protein_of(job) != protein_of(batch[0]) or len(batch) >= batch_size):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


def worker_share(total: int, batch_size: int, worker: Worker, finished: Iterable[int] = ()) -> int:
    """How many of the `total` ligands of one protein (indices 0..total-1) this worker docks, less those
    already finished (for its progress bar)."""
    done = set(finished)
    return sum(1 for index in range(total) if worker.takes(index // batch_size) and index not in done)
