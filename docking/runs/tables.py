"""A run's tables: OUT/summary.csv (one row per ligand, docked or failed) and OUT/failures.csv (one row per
failed ligand, with the reason), keyed by the ligand's input index.

    appending   every row is one write() of a complete line to a file opened for appending, then fsync:
                a kill at any moment leaves whole rows and at most one torn last line (no newline)
    commit      a failure is written to failures.csv first, then to summary.csv: a ligand is finished
                once its summary row is complete (`--resume` drops a failures row without one)
    torn rows   `drop_torn_row` cuts a last line without its newline (the ligand it described is docked
                again on --resume)
    joining     `join_tables` puts the rows of several tables (torchrun's per-rank tables, the shards of
                `disco dock merge`) into one, in input order, refusing an index that two of them hold

Torch-free, so that `disco dock merge` starts fast.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from disco_core.errors import DiscoError
from disco_core.io import atomic_write_bytes, atomic_write_text
from docking.pose_record import format_value

SUMMARY_COLUMNS = ["index", "name", "status", "n_poses", "top_confidence", "seconds", "protein", "ligand", "pocket"]
FAILURE_COLUMNS = ["index", "name", "protein", "ligand", "reason"]
TABLE_STEMS = ("summary", "failures")

logger = logging.getLogger(__name__)


def _line(columns: list[str], row: dict) -> str:
    """One CSV line; a value's own line breaks become spaces, so that a physical line is always one row."""
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n").writerow(
        {key: " ".join(format_value(value).splitlines()) for key, value in row.items()})
    return buffer.getvalue()


def _header_line(columns: list[str]) -> str:
    return _line(columns, dict(zip(columns, columns)))


class _AppendedTable:
    """One CSV file that grows by whole rows (see the module docstring)."""

    def __init__(self, path: Path, columns: list[str], append: bool):
        self.path, self.columns = path, columns
        if append and path.is_file():
            header = read_header(path)
            if header != columns:
                raise DiscoError(f"{path}: its columns ({', '.join(header)}) are not this run's "
                                 f"({', '.join(columns)})")
        else:
            atomic_write_text(path, _header_line(columns))      # never a torn header
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def append(self, row: dict) -> None:
        data = _line(self.columns, row).encode()
        while data:                        # a regular file takes it in one write; a short write goes on
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class RunTables:
    """summary.csv and failures.csv of one process (`suffix` = '.rankN' under torchrun), one row per ligand
    as it finishes, so that an interrupted run keeps every finished ligand. `append` continues existing
    tables (--resume) instead of starting them."""

    def __init__(self, out_dir: Path, suffix: str = "", extra_columns: list[str] | None = None,
                 append: bool = False):
        self.summary_path = out_dir / f"summary{suffix}.csv"
        self.failures_path = out_dir / f"failures{suffix}.csv"
        self.columns = SUMMARY_COLUMNS + list(extra_columns or [])
        self._summary = _AppendedTable(self.summary_path, self.columns, append)
        self._failures = _AppendedTable(self.failures_path, FAILURE_COLUMNS, append)
        self.n_ok = self.n_failed = 0

    def success(self, row: dict) -> None:
        self.n_ok += 1
        self._summary.append({"status": "ok", **row})

    def failure(self, row: dict, reason: str) -> None:
        """Record a skipped item and log it (a warning, one line: the item and the reason)."""
        logger.warning("skipped %s", reason)
        self.n_failed += 1
        self._failures.append({**row, "reason": reason})
        self._summary.append({"status": "failed", "n_poses": 0, **row})     # the commit: see the module docstring

    def close(self) -> None:
        self._summary.close()
        self._failures.close()


def read_header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle), [])


def read_table(path: Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a table; a row whose field count is not the header's is a DiscoError naming it."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = []
        for values in reader:
            if len(values) != len(header):
                raise DiscoError(f"{path}: line {reader.line_num} has {len(values)} fields, the header "
                                 f"{len(header)} (the table is damaged)")
            rows.append(dict(zip(header, values)))
    return header, rows


def drop_torn_row(path: Path) -> bool:
    """Cut a last line that lacks its newline (a row a kill interrupted); True when one was cut."""
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    atomic_write_bytes(path, data[:data.rfind(b"\n") + 1])
    logger.warning("%s: dropped a torn last row (a run was stopped while writing it); its ligand is docked again",
                   path)
    return True


def write_table(path: Path, header: list[str], rows: list[dict]) -> None:
    """The rows, in input order (by index), as a table written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: int(row["index"])))
    atomic_write_text(path, buffer.getvalue())


def collect_rows(sources: list[Path]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of several tables of one run, read without writing anything. Tables with other columns,
    or two rows with one index, are a DiscoError naming them."""
    header: list[str] | None = None
    rows: list[dict] = []
    holder: dict[int, Path] = {}
    for source in sources:
        columns, source_rows = read_table(source)
        if header is None:
            header = columns
        elif columns != header:
            raise DiscoError(f"{source}: its columns ({', '.join(columns)}) are not those of {sources[0]} "
                             f"({', '.join(header)})")
        for row in source_rows:
            index = int(row["index"])
            if index in holder:
                raise DiscoError(f"{source}: ligand index {index} ({row['name']}) is also in {holder[index]}")
            holder[index] = source
        rows += source_rows
    return header or [], rows


def join_tables(target: Path, parts: list[Path]) -> None:
    """The rows of `target` (when it exists) and of `parts` into `target`, in input order (see collect_rows);
    the parts stay."""
    header, rows = collect_rows(([target] if target.is_file() else []) + list(parts))
    if header:
        write_table(target, header, rows)


def rank_table_parts(out_dir: Path, stem: str) -> list[Path]:
    """torchrun's per-rank tables OUT/<stem>.rankN.csv, in rank order."""
    return sorted(out_dir.glob(f"{stem}.rank*.csv"), key=lambda p: int(p.name.split(".rank")[1].split(".")[0]))


def merge_rank_tables(out_dir: Path) -> None:
    """torchrun: join summary.rankN.csv / failures.rankN.csv (and the tables of the run this one resumes) into
    summary.csv / failures.csv, in input order, and remove the per-rank parts."""
    for stem in TABLE_STEMS:
        parts = rank_table_parts(out_dir, stem)
        if not parts:
            continue
        join_tables(out_dir / f"{stem}.csv", parts)
        for part in parts:
            part.unlink()
