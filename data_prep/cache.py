"""The processed cache: one `items/<safe_name>.pt` per complex, an index table, a summary.

Layout of CACHE/:
    items/<safe_name>.pt   plain tensors, `torch.load(..., weights_only=True)`
    index.csv              one row per cached complex: sizes, RMSDs, source paths
    failures.csv           name, stage, reason
    summary.json           n_ok, n_failed, median_matched_rmsd, seconds, ...
    cache_config.json      options the items were built with (a rerun with other options is refused)

Reruns skip items whose file exists (files are written atomically, so an existing file is whole).
Work runs in worker processes, one thread each; a worker that dies takes only its current job.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from disco_core.errors import DiscoError, InputError
from disco_core.io import atomic_open, atomic_write_text

from .esm import load_esm_embeddings
from .featurize import FORMAT_VERSION, FeaturizeOptions, StageError, featurize_pair
from .inputs import ComplexJob

INDEX_COLUMNS = ["name", "file", "n_ligand_atoms", "n_rotatable_bonds", "n_residues", "matched_rmsd",
                 "unmatched_rmsd", "has_esm", "ligand_read_with", "protein_path", "ligand_path", "seconds"]
FAILURE_COLUMNS = ["name", "stage", "reason"]


@dataclass
class CacheOptions(FeaturizeOptions):
    esm_embeddings: str | None = None   # path of a `disco prep esm` file
    item_timeout_s: float = 300.0       # a job running longer fails with stage "timeout"

    def content_key(self) -> dict:
        """Options that change what an item holds (a resumed run must use the same ones)."""
        return {"format_version": FORMAT_VERSION, "seed": self.seed, "max_residues": self.max_residues,
                "match_restarts": self.match_restarts,
                "esm_embeddings": str(Path(self.esm_embeddings).resolve()) if self.esm_embeddings else None}


def item_path(cache_dir: str | Path, safe_name: str) -> Path:
    return Path(cache_dir) / "items" / f"{safe_name}.pt"


def load_item(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def write_item(path: Path, item: dict) -> None:
    buffer = io.BytesIO()
    torch.save(item, buffer)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def index_row(item: dict, path: Path, seconds: float) -> dict:
    return {"name": item["name"], "file": f"items/{path.name}",
            "n_ligand_atoms": int(item["lig_atom_features"].shape[0]),
            "n_rotatable_bonds": int(item["rot_bonds"].shape[0]),
            "n_residues": int(item["rec_residue_type"].shape[0]),
            "matched_rmsd": round(item["matched_rmsd"], 4) if "matched_rmsd" in item else "",
            "unmatched_rmsd": round(item["unmatched_rmsd"], 4) if "unmatched_rmsd" in item else "",
            "has_esm": int("rec_esm" in item), "ligand_read_with": item.get("ligand_read_with", ""),
            "protein_path": item["source"]["protein"], "ligand_path": item["source"]["ligand"],
            "seconds": round(seconds, 3)}


@contextmanager
def _time_limit(seconds: float, name: str):
    """Raise StageError('timeout') when the body runs past `seconds` (Unix main thread only)."""
    usable = seconds > 0 and hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise StageError("timeout", name, f"processing took longer than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_WORKER_ESM: dict = {}


def _esm_table(path: str | None) -> dict | None:
    if not path:
        return None
    if path not in _WORKER_ESM:
        _WORKER_ESM[path] = load_esm_embeddings(path)
    return _WORKER_ESM[path]


def process_job(job: ComplexJob, cache_dir: str | Path, options: CacheOptions) -> dict:
    """Featurise and write one complex. Returns {"ok": index row} or {"failed": failure row}."""
    return _one_line(_process_job(job, cache_dir, options))


def _process_job(job: ComplexJob, cache_dir: str | Path, options: CacheOptions) -> dict:
    start = time.monotonic()
    if job.input_error:
        return {"failed": {"name": job.name, "stage": "input", "reason": job.input_error}}
    try:
        with _time_limit(options.item_timeout_s, job.name):
            item = featurize_pair(job.protein_path, job.ligand, name=job.name, options=options,
                                  ligand_fallbacks=job.ligand_fallbacks,
                                  esm_embeddings=_esm_table(options.esm_embeddings))
            item["source"].update({"ligand_fallbacks": list(job.ligand_fallbacks)})
            path = item_path(cache_dir, job.safe_name)
            write_item(path, item)
    except StageError as exc:
        return {"failed": {"name": job.name, "stage": exc.stage, "reason": exc.reason}}
    except InputError as exc:
        return {"failed": {"name": job.name, "stage": "input", "reason": str(exc)}}
    except MemoryError:
        return {"failed": {"name": job.name, "stage": "memory", "reason": "ran out of memory"}}
    except Exception as exc:  # a bug or a library failure on odd input: record it, keep the batch going
        return {"failed": {"name": job.name, "stage": "internal", "reason": f"{type(exc).__name__}: {exc}"}}
    return {"ok": index_row(item, path, time.monotonic() - start)}


def _one_line(result: dict) -> dict:
    """Failure reasons go to a CSV and a terminal line: collapse library messages onto one line."""
    if "failed" in result:
        result["failed"]["reason"] = " ".join(str(result["failed"]["reason"]).split())
    return result


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _check_config(cache_dir: Path, options: CacheOptions, force: bool) -> None:
    config_path = cache_dir / "cache_config.json"
    wanted = options.content_key()
    if config_path.is_file() and not force:
        existing = json.loads(config_path.read_text())
        if existing != wanted:
            changed = sorted(k for k in set(existing) | set(wanted) if existing.get(k) != wanted.get(k))
            raise DiscoError(f"{cache_dir}: cache was built with other options ({', '.join(changed)}); "
                             f"use another --out or --force to rebuild it")
    atomic_write_text(config_path, json.dumps(wanted, indent=2) + "\n")


def _rmsd_stats(values: list[float]) -> dict:
    if not values:
        return {}
    q = np.percentile(values, [0, 25, 50, 75, 90, 100])
    return {"min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q90": q[4], "max": q[5],
            "mean": float(np.mean(values)), "n": len(values)}


def build_cache(jobs: list[ComplexJob], cache_dir: str | Path, options: CacheOptions = CacheOptions(),
                workers: int = 1, force: bool = False,
                progress: Callable[[str, str], None] | None = None) -> dict:
    """Process `jobs` into `cache_dir`; returns (and writes) the summary.

    `progress(name, status)` is called once per job with status "ok", "failed" or "cached"."""
    started = time.monotonic()
    cache_dir = Path(cache_dir)
    (cache_dir / "items").mkdir(parents=True, exist_ok=True)
    _check_config(cache_dir, options, force)
    if options.esm_embeddings:
        load_esm_embeddings(options.esm_embeddings)  # fail early and once on a bad file

    previous = {row["file"]: row for row in _read_rows(cache_dir / "index.csv")}
    rows: dict[str, dict] = {}
    failures: list[dict] = []
    todo: list[ComplexJob] = []
    for job in jobs:
        path = item_path(cache_dir, job.safe_name)
        if path.is_file() and not force and not job.input_error:
            row = previous.get(f"items/{path.name}")
            if row is None:
                try:
                    row = index_row(load_item(path), path, 0.0)
                except Exception:  # unreadable leftover: redo it
                    todo.append(job)
                    continue
            rows[job.safe_name] = row
            if progress:
                progress(job.name, "cached")
        else:
            todo.append(job)
    n_cached = len(rows)

    def record(job: ComplexJob, result: dict) -> None:
        if "ok" in result:
            rows[job.safe_name] = result["ok"]
        else:
            failures.append(result["failed"])
        if progress:
            progress(job.name, "ok" if "ok" in result else "failed")

    def checkpoint_index() -> None:
        _write_rows(cache_dir / "index.csv", INDEX_COLUMNS, sorted(rows.values(), key=lambda r: r["name"]))

    if workers <= 1:
        for job in todo:
            record(job, process_job(job, cache_dir, options))
    else:
        _run_parallel(todo, cache_dir, options, workers, record, checkpoint_index)

    checkpoint_index()
    _write_rows(cache_dir / "failures.csv", FAILURE_COLUMNS, failures)
    ok_rows = list(rows.values())
    matched = [float(r["matched_rmsd"]) for r in ok_rows if r["matched_rmsd"] not in ("", None)]
    unmatched = [float(r["unmatched_rmsd"]) for r in ok_rows if r["unmatched_rmsd"] not in ("", None)]
    seconds = time.monotonic() - started
    by_stage: dict[str, int] = {}
    for failure in failures:
        by_stage[failure["stage"]] = by_stage.get(failure["stage"], 0) + 1
    summary = {
        "n_jobs": len(jobs), "n_ok": len(ok_rows), "n_failed": len(failures), "n_new": len(ok_rows) - n_cached,
        "n_already_cached": n_cached, "failures_by_stage": by_stage,
        "median_matched_rmsd": float(np.median(matched)) if matched else None,
        "median_unmatched_rmsd": float(np.median(unmatched)) if unmatched else None,
        "matched_rmsd": _rmsd_stats(matched), "unmatched_rmsd": _rmsd_stats(unmatched),
        "fraction_matched_rmsd_below_1A": float(np.mean(np.asarray(matched) < 1.0)) if matched else None,
        "seconds": round(seconds, 2), "workers": workers,
        "complexes_per_second": round(len(todo) / seconds, 3) if seconds > 0 else None,
        "cache": str(cache_dir), "options": dataclasses.asdict(options),
    }
    summary = json.loads(json.dumps(summary, default=float))
    atomic_write_text(cache_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _run_parallel(todo: list[ComplexJob], cache_dir: Path, options: CacheOptions, workers: int,
                  record: Callable[[ComplexJob, dict], None], checkpoint: Callable[[], None]) -> None:
    """Run jobs in a spawn-started process pool. If a worker dies (a crash in native code), the pool is
    rebuilt and the jobs in flight are retried once; a job in flight at two deaths is recorded as failed."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    pending = list(todo)
    crashes: dict[str, int] = {}
    last_checkpoint = time.monotonic()
    while pending:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
            futures = {pool.submit(process_job, job, cache_dir, options): job for job in pending}
            pending = []
            broken = False
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in done:
                    job = futures[future]
                    try:
                        record(job, future.result())
                    except BrokenProcessPool:
                        broken = True
                        crashes[job.safe_name] = crashes.get(job.safe_name, 0) + 1
                        if crashes[job.safe_name] >= 2:
                            record(job, {"failed": {"name": job.name, "stage": "crash",
                                                    "reason": "worker process died while processing it (twice)"}})
                        else:
                            pending.append(job)
                if time.monotonic() - last_checkpoint > 10:
                    checkpoint()
                    last_checkpoint = time.monotonic()
            if not broken:
                return
