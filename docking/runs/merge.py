"""`disco dock merge OUT1 OUT2 ... --out OUT`: the output folders of the shards of one run (`--shard I/N`,
or any runs of one request that docked disjoint ligands) joined into one, as one run would have written it.

    checks    every source is a finished run (run.json says so, no torn last row, no per-rank tables left);
              their run.json agree on every input and option but the shard; no two sources are
              the same shard or hold one ligand index or one ligand name; every docked ligand's folder is
              there. All of it before anything is written; OUT must be new or empty
    folders   OUT/<name>/ gets the source's files hard-linked (no extra space; a later atomic rewrite of a
              file in either folder replaces it there only) or, across file systems or with copy=True,
              copied; each folder is built beside its final name and renamed into place. The sources are
              never changed
    tables    summary.csv and failures.csv in input order; run.json is the sources' with shard null and
              the sources listed, so OUT can be --resume'd like a plain run (it docks what no shard did)

Torch-free: merging thousands of folders needs no model.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from disco_core.errors import DiscoError, InputError
from docking.runs.folder import finish_run, write_report
from docking.runs.record import first_difference, read_run_record, write_run_record
from docking.runs.tables import collect_rows, rank_table_parts, write_table

logger = logging.getLogger(__name__)

_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


@dataclass
class MergeCounts:
    n_ok: int
    n_failed: int
    out_dir: Path
    missing_shards: list[str] = field(default_factory=list)    # "I/N" of the parts no source holds
    linked_files: int = 0
    copied_files: int = 0
    report: Path | None = None                                 # OUT/report.html when written


def _source_record(source: Path) -> dict:
    """A source's run.json, once it is known to be a finished run."""
    if not source.is_dir():
        raise InputError(str(source), "not a folder")
    parts = rank_table_parts(source, "summary")
    if parts:
        raise DiscoError(f"{source}: an unfinished torchrun run ({parts[0].name}); finish it with --resume first")
    summary = source / "summary.csv"
    if not summary.is_file():
        raise DiscoError(f"{source}: holds no run (no summary.csv)")
    data = summary.read_bytes()
    if data and not data.endswith(b"\n"):
        raise DiscoError(f"{summary}: ends in a torn row (the run was stopped); finish it with --resume first")
    record = read_run_record(source)
    if record is None:
        raise DiscoError(f"{source}: no run.json beside its summary.csv (an older disco wrote it), so it cannot be "
                         f"checked against the others")
    if record.get("finished") is not True:
        raise DiscoError(f"{source}: its run did not finish (stopped before its last ligand); --resume it first")
    return record


def _check_same_request(sources: list[Path], records: list[dict]) -> list[str]:
    """The sources are parts of one request; returns the shards no source holds."""
    for source, record in zip(sources[1:], records[1:]):
        difference = first_difference(records[0], record, compare_shard=False)
        if difference is not None:
            flag, first, this = difference
            raise InputError(flag, f"{source} was docked with {this}, {sources[0]} with {first}: not parts of one run")
    shards: dict[str, Path] = {}
    for source, record in zip(sources, records):
        shard = record.get("shard")
        if shard is None:
            continue
        if shard in shards:
            raise DiscoError(f"{source}: is shard {shard}, as {shards[shard]} is: the parts overlap")
        shards[shard] = source
    counts = {shard.split("/")[1] for shard in shards}
    if len(counts) > 1:
        raise DiscoError(f"the sources split the input into different numbers of parts ({', '.join(sorted(shards))})")
    if not counts or len(shards) < len(sources):
        return []
    count = int(counts.pop())
    return [f"{i}/{count}" for i in range(1, count + 1) if f"{i}/{count}" not in shards]


def _place_folder(source: Path, target: Path, copy: bool) -> tuple[int, int]:
    """`source`'s files (not the temporary files of an interrupted write) under `target`, hard-linked or
    copied; returns (linked, copied)."""
    staging = target.with_name(f".{target.name}.merging")
    if staging.exists():
        shutil.rmtree(staging)
    linked = copied = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue
        destination = staging / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not copy:
            try:
                os.link(path, destination)
                linked += 1
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINK:
                    raise
        shutil.copy2(path, destination)
        copied += 1
    staging.mkdir(parents=True, exist_ok=True)    # a folder with no files stays a folder
    os.replace(staging, target)
    return linked, copied


def merge_runs(sources: list[str | Path], out_dir: str | Path, copy: bool = False,
               report: bool = True) -> MergeCounts:
    """Join the finished runs `sources` into `out_dir` (see the module docstring); returns its counts. Raises
    DiscoError / InputError with one line naming the source and what is wrong; then nothing is written."""
    sources = [Path(source) for source in sources]
    out_dir = Path(out_dir)
    if not sources:
        raise InputError("merge", "give the output folders to merge")
    resolved = [source.resolve() for source in sources]
    for i, path in enumerate(resolved):
        if path in resolved[:i]:
            raise InputError(str(sources[i]), "given twice")
    if out_dir.resolve() in resolved:
        raise InputError(str(out_dir), "is one of the folders to merge; merge into a new folder")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise DiscoError(f"{out_dir}: not empty; merge into a new folder")
    records = [_source_record(source) for source in sources]
    missing = _check_same_request(sources, records)
    summary_header, summary = collect_rows([source / "summary.csv" for source in sources])
    failures_header, failures = collect_rows([source / "failures.csv" for source in sources
                                              if (source / "failures.csv").is_file()])
    owner: dict[str, Path] = {}
    folders: list[tuple[Path, str]] = []
    for source in sources:
        for row in collect_rows([source / "summary.csv"])[1]:
            key = row["name"].lower()               # folder names: case-insensitive file systems too
            if key in owner:
                raise DiscoError(f"{source}: ligand name {row['name']} is also in {owner[key]}")
            owner[key] = source
            if row["status"] == "ok":
                if not (source / row["name"] / "poses.sdf").is_file():
                    raise DiscoError(f"{source / row['name']}: docked in summary.csv but its poses.sdf is missing")
                folders.append((source, row["name"]))

    out_dir.mkdir(parents=True, exist_ok=True)
    linked = copied = 0
    for source, name in folders:
        try:
            n_linked, n_copied = _place_folder(source / name, out_dir / name, copy)
        except OSError as exc:
            raise DiscoError(f"{out_dir / name}: cannot place {source / name} ({exc.strerror or exc})") from None
        linked, copied = linked + n_linked, copied + n_copied
    merged = {**records[0], "shard": None, "finished": False,
              "merged_from": [{"out": str(source.resolve()), "shard": record.get("shard")}
                              for source, record in zip(sources, records)]}
    write_run_record(out_dir, merged)
    if failures_header:
        write_table(out_dir / "failures.csv", failures_header, failures)
    write_table(out_dir / "summary.csv", summary_header, summary)      # last: its presence marks a run
    finish_run(out_dir)
    report_path = write_report(out_dir) if report else None
    if missing:
        logger.warning("%s: shard(s) %s of the run are not among the merged folders; merge them too (or --resume "
                       "%s to dock their ligands)", out_dir, ", ".join(missing), out_dir)
    n_ok = sum(row["status"] == "ok" for row in summary)
    return MergeCounts(n_ok, len(summary) - n_ok, out_dir, missing, linked, copied, report_path)
