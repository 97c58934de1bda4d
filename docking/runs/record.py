"""OUT/run.json: what a run docked and with which options, so that `--resume` continues only the run it
started and `disco dock merge` joins only shards of one run.

    inputs    the protein, ligand and CSV as given; a file by its name and SHA-256 (a moved or copied file
              is the same input, an edited one is not)
    options   every option that changes the results: samples, steps, seed, batch size (it fixes the
              batches, hence the float rounding and the shards' parts), guidance, energy, pocket, model,
              post-processing, ... (not --out, --device, --resume, --no-report)
    shard     "I/N", or null for the whole input
    finished  false while the run goes (and again while a --resume goes), true once its tables are final:
              `disco dock merge` takes finished runs only

Torch-free (read by `disco dock merge`).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from disco_core import __version__
from disco_core.errors import DiscoError, InputError
from disco_core.io import atomic_write_text
from docking.request.jobs import describe_input

RUN_FILE = "run.json"
INPUT_OPTIONS = ("protein", "ligand", "name", "csv")
NOT_RESULT_OPTIONS = {"out", "device", "resume", "shard", "report"}
FILE_OPTIONS = {"protein", "ligand", "csv", "autobox_ligand"}


def run_record(request, inputs: dict | None = None) -> dict:
    """run.json's content for a DockRequest (docking.runs.run); `inputs` replaces the request's
    protein / ligand / name / csv (the Python API describes its molecules itself)."""
    if inputs is None:
        inputs = {name: describe_input(getattr(request, name)) for name in INPUT_OPTIONS}
    options = {}
    for field in fields(request):
        name, value = field.name, getattr(request, field.name)
        if name in NOT_RESULT_OPTIONS or name in INPUT_OPTIONS:
            continue
        if name in FILE_OPTIONS:
            value = describe_input(value)
        elif name == "model" and value:
            value = str(Path(str(value)).resolve())       # a folder: named by its path
        options[name] = json.loads(json.dumps(value))
    shard = getattr(request, "shard", None)
    return {"disco_version": __version__, "inputs": inputs, "options": options,
            "shard": None if shard is None else str(shard), "finished": False}


def write_run_record(out_dir: Path, record: dict) -> None:
    atomic_write_text(out_dir / RUN_FILE, json.dumps(record, indent=2) + "\n")


def read_run_record(out_dir: Path) -> dict | None:
    """OUT/run.json, or None when there is none; an unreadable one is a DiscoError."""
    path = out_dir / RUN_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DiscoError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(record, dict) or not {"inputs", "options"} <= set(record):
        raise DiscoError(f"{path}: not a run record of disco dock")
    return record


def mark_finished(out_dir: Path, finished: bool) -> None:
    """Set run.json's `finished` (when OUT has a run.json)."""
    record = read_run_record(out_dir)
    if record is not None and record.get("finished") is not finished:
        write_run_record(out_dir, {**record, "finished": finished})


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _shown(value) -> str:
    if isinstance(value, dict) and "sha256" in value:
        return f"{Path(value['file']).name} (sha256 {value['sha256'][:12]})"
    return json.dumps(value)


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and "sha256" in a and "sha256" in b:
        return a["sha256"] == b["sha256"]
    return a == b


def first_difference(saved: dict, current: dict, compare_shard: bool = True) -> tuple[str, str, str] | None:
    """The first input or option (as its flag), its value in `saved` and in `current`, where the two runs'
    records differ; None when they describe the same run."""
    for section in ("inputs", "options"):
        a, b = saved.get(section, {}), current.get(section, {})
        for option in list(a) + [key for key in b if key not in a]:
            if not _same(a.get(option), b.get(option)):
                return _flag(option), _shown(a.get(option)), _shown(b.get(option))
    if compare_shard and saved.get("shard") != current.get("shard"):
        return "--shard", str(saved.get("shard") or "none"), str(current.get("shard") or "none")
    return None


def check_same_run(out_dir: Path, saved: dict, current: dict) -> None:
    """`--resume` continues the run OUT/run.json describes, or refuses with the first option that differs."""
    difference = first_difference(saved, current)
    if difference is not None:
        flag, before, now = difference
        raise InputError(flag, f"{out_dir} was docked with {before}, this run gives {now}; --resume continues a "
                               f"run with its own options (or dock into a new --out)")
