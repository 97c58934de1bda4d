"""OUT/report.html: the page a `disco dock` run leaves for a person to look at its poses, built from what
the run wrote (summary.csv, failures.csv, OUT/<name>/poses.sdf, interactions.csv and, blind, sites.csv, the
proteins named in summary.csv's `protein` column), so that anything that writes those files (a run, a resumed
run, a merge of shards) can rebuild it with `write_run_report(out_dir)`.

Layout, and why:

    OUT/report.html                     the summary table (sortable, filterable) and one ligand panel; small
    OUT/report_assets/3Dmol-min.js      the viewer (the vendored npm `3dmol`), one copy per run folder
    OUT/report_assets/proteins/K.js     each protein once (K = a hash of its file), whatever its ligand count
    OUT/<name>/report_data.js           one ligand's poses, pose table and contacts, loaded when it is opened

A screen of 100,000 ligands cannot put its poses in one page (hundreds of MB that a browser would parse
before showing anything), so each ligand's data is its own small script that the page loads when the user
opens that ligand, and the protein that all of them share is stored once. Browsers refuse `fetch` of
`file://` URLs, but load `<script src>` from them, so the data files are scripts that hand their content to
the page (`discoReport.ligandLoaded(...)`). The viewer's 540 kB of JavaScript sits beside the page rather than
inside it: the report is a folder either way (the ligand files are beside it), the page itself stays a few
kB plus its summary, and a browser reads the shared script once from its cache. Nothing is loaded from the
network: OUT opens offline as it is, and can be moved or zipped as a whole.

Rebuilding is incremental: a ligand's data file is rewritten only when it is older than the ligand's
poses.sdf / interactions.csv / sites.csv or its protein file, or was written by another version of this module.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections import OrderedDict
from pathlib import Path

from disco_core.errors import InputError
from disco_core.io import atomic_write_text
from docking.contacts.profiler import HYDROGEN_BOND_TYPES, parse_interaction_summary
from docking.pose_record import SITES_FILE
from docking.request.ligand_stream import RESERVED_FOLDERS
from docking.report.ligand import ligand_report_data
from docking.report.protein import ViewerProtein, load_viewer_protein

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"
ASSETS = RESERVED_FOLDERS[0]                 # a name no ligand folder takes (ligand_stream)
LIGAND_DATA = "report_data.js"
DATA_FORMAT = "disco-report-data 1"         # first line of each data script; another value rewrites it
PACKAGED_ASSETS = Path(__file__).parent / "assets"
VIEWER_FILES = ("3Dmol-min.js", "3Dmol-LICENSE.txt", "3Dmol-min.js.LICENSE.txt")
MAX_SHOWN_ROWS = 2000                        # summary rows the page draws at once (filter / sort reach the rest)


def write_run_report(out_dir: str | Path) -> Path:
    """Write (or bring up to date) OUT/report.html and its data files from the run folder; returns the page's
    path. Raises InputError when the folder holds no summary.csv; OSError when a file cannot be written."""
    out_dir = Path(out_dir)
    summary = _read_table(out_dir / "summary.csv")
    if summary is None:
        raise InputError(str(out_dir), "no summary.csv: not a `disco dock` output folder")
    header, rows = summary
    failure_rows = (_read_table(out_dir / "failures.csv") or ([], []))[1]
    failures = {row.get("index"): row.get("reason", "") for row in failure_rows}
    _copy_viewer(out_dir / ASSETS)
    proteins = _Proteins(out_dir)
    for row in rows:
        if row.get("status") == "ok":
            _write_ligand_data(out_dir, row, proteins)
    page = out_dir / REPORT_NAME
    protein_names = list(dict.fromkeys(Path(row.get("protein", "")).name for row in rows if row.get("protein")))
    atomic_write_text(page, render_page(header, rows, failures, protein_names))
    return page


# ------------------------------------------------------------------------------------------------ inputs

def _read_table(path: Path) -> tuple[list[str], list[dict]] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


class _Proteins:
    """The proteins of the run, each read once (the last few kept) and written once as a data script."""

    def __init__(self, out_dir: Path, keep: int = 4):
        self.out_dir, self.keep = out_dir, keep
        self._loaded: OrderedDict[str, tuple[ViewerProtein | None, str | None]] = OrderedDict()

    def locate(self, protein: str) -> Path | None:
        """The protein file as recorded (absolute, or relative to where the run started), else relative to
        the run folder's parent (a run folder moved together with its inputs)."""
        for candidate in (Path(protein), self.out_dir.parent / protein):
            if protein and candidate.is_file():
                return candidate
        return None

    def get(self, protein: str) -> tuple[ViewerProtein | None, str | None]:
        """(protein, None), or (None, why the viewer shows the poses alone)."""
        if protein not in self._loaded:
            path = self.locate(protein)
            if path is None:
                entry = (None, f"protein file {protein or '(none recorded)'} not found: the viewer shows the "
                               "poses without it")
            else:
                try:
                    viewer_protein = load_viewer_protein(path)
                    self._write(viewer_protein)
                    entry = (viewer_protein, None)
                except InputError as exc:
                    entry = (None, f"{exc}: the viewer shows the poses without it")
            self._loaded[protein] = entry
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        return self._loaded[protein]

    def _write(self, protein: ViewerProtein) -> None:
        path = self.script(protein.key)
        if not path.is_file():
            atomic_write_text(path, f"discoReport.proteinLoaded({json.dumps(protein.key)}, "
                                    f"{_script_json(protein.pdb_text)});\n")

    def script(self, key: str) -> Path:
        return self.out_dir / ASSETS / "proteins" / f"{key}.js"


def _copy_viewer(assets: Path) -> None:
    assets.mkdir(parents=True, exist_ok=True)
    for name in VIEWER_FILES:
        source, target = PACKAGED_ASSETS / name, assets / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            tmp = target.with_name(f".{name}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)


# ------------------------------------------------------------------------------------------ ligand data

def _data_header(protein_key: str | None) -> str:
    return f"// {DATA_FORMAT} protein={protein_key or '-'}\n"


def _is_fresh(target: Path, sources: list[Path], proteins: _Proteins, protein_found: bool) -> bool:
    """The data script exists, is of this format, newer than its sources, and its protein script exists (or
    it was written without a protein that is still not to be found)."""
    if not target.is_file():
        return False
    with target.open() as handle:
        first = handle.readline()
    if not first.startswith(f"// {DATA_FORMAT} protein="):
        return False
    key = first.strip().rsplit("protein=", 1)[1]
    if (key == "-" and protein_found) or (key != "-" and not proteins.script(key).is_file()):
        return False
    written = target.stat().st_mtime_ns
    return all(not source.is_file() or source.stat().st_mtime_ns <= written for source in sources)


def _write_ligand_data(out_dir: Path, row: dict, proteins: _Proteins) -> None:
    folder = out_dir / row["name"]
    target = folder / LIGAND_DATA
    protein_path = proteins.locate(row.get("protein", ""))
    sources = ([folder / "poses.sdf", folder / "interactions.csv", folder / SITES_FILE]
               + ([protein_path] if protein_path else []))
    if _is_fresh(target, sources, proteins, protein_path is not None):
        return
    protein, note = proteins.get(row.get("protein", ""))
    data = ligand_report_data(folder, row["name"], protein, note)
    data["protein_file"] = Path(row.get("protein", "")).name
    atomic_write_text(target, _data_header(data["protein"]) + f"discoReport.ligandLoaded({_script_json(data)});\n")


def _script_json(value) -> str:
    """JSON that is safe inside a <script> element (no '</script>' or '<!--' can appear)."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


# ------------------------------------------------------------------------------------------------- page

def _summary_columns(header: list[str], any_note: bool) -> list[dict]:
    """The page's summary columns, from what summary.csv holds."""
    columns = [{"key": "index", "label": "#", "numeric": True}, {"key": "name", "label": "ligand"},
               {"key": "status", "label": "status"}, {"key": "n_poses", "label": "poses", "numeric": True}]
    for key, label in (("vina_score_kcal_mol", "Vina (kcal/mol)"), ("interaction_energy", "energy (kcal/mol)"),
                       ("intermolecular_energy", "intermolecular (kcal/mol)"),
                       ("vina_form_score", "Vina-form score")):
        if key in header:
            columns.append({"key": key, "label": label, "numeric": True, "help": "of the top pose"})
    columns.append({"key": "top_confidence", "label": "confidence", "numeric": True,
                    "help": "calibrated P(RMSD < 2 A) of the top pose"})
    if "pb_valid" in header:
        columns.append({"key": "pb_valid", "label": "PoseBusters", "help": "the top pose passes every check"})
    if "interactions" in header:
        columns += [{"key": "hbonds", "label": "H-bonds", "numeric": True,
                     "help": "hydrogen-bonded residues of the top pose"},
                    {"key": "contacts", "label": "contacts", "numeric": True,
                     "help": "distinct type:residue interactions of the top pose"},
                    {"key": "interactions", "label": "top-pose interactions", "wrap": True}]
    columns += [{"key": "seconds", "label": "seconds", "numeric": True}, {"key": "protein", "label": "protein"}]
    if any_note:
        columns.append({"key": "note", "label": "note", "wrap": True})
    return columns


def grouped_pairs(summary: str) -> str:
    """An `interactions` value for reading: 'HBDonor ASP189.A, GLY216.A · Hydrophobic PHE41.A'."""
    groups: dict[str, list[str]] = {}
    for kind, residue in parse_interaction_summary(summary):
        groups.setdefault(kind, []).append(residue)
    return " \u00b7 ".join(f"{kind} {', '.join(residues)}" for kind, residues in groups.items())


def _cell(key: str, row: dict, note: str):
    value = row.get(key, "")
    if key in ("hbonds", "contacts"):
        if row.get("status") != "ok" or row.get("interactions_error") or "interactions" not in row:
            return ""
        pairs = parse_interaction_summary(row.get("interactions") or "")
        return len([p for p in pairs if p[0] in HYDROGEN_BOND_TYPES]) if key == "hbonds" else len(pairs)
    if key == "interactions":
        return grouped_pairs(value or "")
    if key == "pb_valid" and value:
        return "pass" if value == "True" else "fail"
    if key == "protein":
        return Path(value).name
    if key == "note":
        return note
    if key == "index":
        return int(value) if str(value).lstrip("-").isdigit() else value
    return value


def render_page(header: list[str], rows: list[dict], failures: dict[str, str], protein_names: list[str]) -> str:
    """The HTML of OUT/report.html for these summary rows."""
    notes = {}
    for row in rows:
        if row.get("status") != "ok":
            notes[row.get("index")] = failures.get(row.get("index"), "")
        elif row.get("interactions_error"):
            notes[row.get("index")] = "interactions: " + row["interactions_error"]
    columns = _summary_columns(header, any(notes.values()))
    n_ok = sum(row.get("status") == "ok" for row in rows)
    run = {
        "columns": columns,
        "rows": [{"name": row.get("name", ""), "ok": row.get("status") == "ok",
                  "reason": notes.get(row.get("index"), ""),
                  "cells": [_cell(c["key"], row, notes.get(row.get("index"), "")) for c in columns]} for row in rows],
        "first_ligand": next((row["name"] for row in rows if row.get("status") == "ok"), None),
        "info": f"{n_ok} ligand(s) docked, {len(rows) - n_ok} failed; protein: {', '.join(protein_names) or '-'}. "
                "Click a ligand to see its poses; click a column to sort.",
        "assets": ASSETS, "ligand_data": LIGAND_DATA, "max_rows": MAX_SHOWN_ROWS,
    }
    template = (PACKAGED_ASSETS / "report.html").read_text()
    title = f"DisCo docking report ({n_ok} ligand{'s' if n_ok != 1 else ''})"
    return (template.replace("__TITLE__", title).replace("__ASSETS__", ASSETS)
            .replace("__RUN_DATA__", _script_json(run)))
