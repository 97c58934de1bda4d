"""The output folder of a `disco dock` run: whether it holds a run, starting one, resuming one, finishing one.

    fresh      an OUT that holds a run (a summary table) is refused, with a hint to --resume it or to give a
               new --out: two runs never mix in one folder. Otherwise run.json is written (atomically) and
               the run starts (an existing run.json without tables is a run that docked nothing: replaced)
    --resume   continues the run in OUT when run.json agrees with this request (else one error naming the
               option, docking.runs.record); a torn last row is dropped, the per-rank tables of
               an interrupted torchrun run are joined, and a failures row whose summary row is missing (the
               kill came between the two) is dropped: the ligands without a summary row are docked again.
               On an OUT without a run, --resume starts one
    finish     `finish_run` puts the tables in input order (joining torchrun's per-rank tables) and marks
               run.json finished; after it the folder is complete, and `write_report` builds OUT/report.html
               from it (docking.report.page, imported there: the report is the only part that needs it)

Torch-free (`disco dock merge` uses it).
"""

from __future__ import annotations

from pathlib import Path

from disco_core.errors import DiscoError
from docking.runs.record import (RUN_FILE, check_same_run, mark_finished, read_run_record,
                                          write_run_record)
from docking.runs.tables import (TABLE_STEMS, drop_torn_row, merge_rank_tables, rank_table_parts,
                                          read_table, write_table)


def run_tables_present(out_dir: Path) -> list[Path]:
    """The summary tables in OUT (summary.csv, torchrun's summary.rankN.csv): non-empty when OUT holds a run."""
    summary = out_dir / "summary.csv"
    return ([summary] if summary.is_file() else []) + rank_table_parts(out_dir, "summary")


def check_run_folder(out_dir: Path, record: dict, resume: bool) -> None:
    """Whether this run may write into OUT (read-only: every torchrun rank checks). Raises DiscoError /
    InputError with one line saying why not and what to do."""
    tables = run_tables_present(out_dir)
    if not tables:
        return
    if not resume:
        raise DiscoError(f"{out_dir}: already holds a run ({tables[0].name}); add --resume to continue it, "
                         f"or give a new --out")
    saved = read_run_record(out_dir)
    if saved is None:
        raise DiscoError(f"{out_dir}: its {tables[0].name} has no {RUN_FILE} beside it (an older disco wrote it), so "
                         f"its options cannot be checked and it cannot be resumed; dock into a new --out")
    check_same_run(out_dir, saved, record)


def prepare_run_folder(out_dir: Path, record: dict, resume: bool) -> None:
    """After `check_run_folder`, once per run (torchrun's rank 0): a fresh run writes run.json; a resumed one
    repairs and joins its tables (see the module docstring)."""
    if not (resume and run_tables_present(out_dir)):
        write_run_record(out_dir, record)
        return
    mark_finished(out_dir, False)
    for stem in TABLE_STEMS:
        for path in [out_dir / f"{stem}.csv", *rank_table_parts(out_dir, stem)]:
            drop_torn_row(path)
    merge_rank_tables(out_dir)
    failures_path = out_dir / "failures.csv"
    if not failures_path.is_file():
        return
    finished = set(finished_rows(out_dir))
    header, failures = read_table(failures_path)
    kept = [row for row in failures if int(row["index"]) in finished]
    if len(kept) < len(failures):
        write_table(failures_path, header, kept)


def finished_rows(out_dir: Path) -> dict[int, dict]:
    """The summary rows of the ligands OUT has finished (docked or failed), by input index."""
    path = out_dir / "summary.csv"
    if not path.is_file():
        return {}
    return {int(row["index"]): row for row in read_table(path)[1]}


def finish_run(out_dir: Path) -> None:
    """The run's last step: summary.csv and failures.csv complete and in input order (torchrun's per-rank
    tables joined), run.json marked finished. After it the folder is final; whatever is built from a finished
    OUT (a run report) is built after this call."""
    merge_rank_tables(out_dir)
    for stem in TABLE_STEMS:
        path = out_dir / f"{stem}.csv"
        if not path.is_file():
            continue
        header, rows = read_table(path)
        indices = [int(row["index"]) for row in rows]
        if indices != sorted(indices):
            write_table(path, header, rows)
    mark_finished(out_dir, True)


def write_report(out_dir: Path) -> Path:
    """OUT/report.html of a finished folder (a run, a resumed run, a merge); one error line if it cannot be written."""
    from docking.report.page import write_run_report

    try:
        return write_run_report(out_dir)
    except OSError as exc:
        raise DiscoError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from None
