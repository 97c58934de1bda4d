"""`disco bench speed --size-sweep`: where the time of one `disco dock` run of one ligand goes, on a small, a
medium and the largest receptor of a PDBBind-style folder (by heavy-atom count).

Each receptor is measured in a fresh interpreter (`python -m benchmarks.size_sweep SPEC RESULT`), so that the
imports and every first call are paid as `disco dock` pays them. The run is `disco dock`'s own
(docking.runs.run.DockingRun over a DockRequest: the bench's settings, else `disco dock`'s defaults; the
ligand from its file, the pocket from that file's crystal pose, or blind), split into

    imports      what `disco dock` imports before it docks: the CLI's parser (every package's subcommands) and
                 docking.runs.run (torch, RDKit, e3nn, the engine)
    model_load .. docking
                 the stages the pipeline times itself (docking.inference.pipeline.STAGES, read through
                 recorded_stage_seconds): model folder, receptor parsing, blind site search, ligand features,
                 the physics' grid maps and atom sets, sampling with minimisation and refinement
    report       from the run's last ligand to its end: the tables put in order and report.html (with the
                 report's own imports)
    other        the rest of the run: request and pocket set-up, ranking, writing the ligand's files and tables
    contacts     the poses' protein contacts as the run computes them (docking.inference.ligand_docker
                 .annotate_interactions with a new InteractionProfiler: ProLIF's import, the pocket's hydrogens,
                 the fingerprints), timed after the run, which runs with contacts off so that they are
                 measured alone; the report therefore shows no contacts, which it would read from a file

The total is their sum: the time of the default run, contacts included. `contacts_added` is the contacts'
seconds over the rest of the total, the measure of issue 43's target (at most 10% on the largest protein).
OUT/size_sweep.csv holds a row per receptor, OUT/size_sweep.json the settings, the machine and the rows.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SIZE_LABELS = ("small", "medium", "largest")
PIPELINE_STAGES = ("model_load", "receptor", "sites", "ligand", "maps", "docking")   # pipeline.STAGES, checked in tests
STAGE_COLUMNS = ("imports", *PIPELINE_STAGES, "report", "other", "contacts")
CSV_COLUMNS = ("size", "id", "protein_heavy_atoms", "chains", "ligand_heavy_atoms",
               *(f"{stage}_seconds" for stage in STAGE_COLUMNS), "total_seconds", "contacts_share",
               "contacts_added", "n_poses", "peak_rss_mb", "error")


@dataclass(frozen=True)
class SweepReceptor:
    """One receptor of the sweep and the files its ligand comes from."""
    size: str                      # one of SIZE_LABELS
    id: str
    protein_path: str
    ligand_path: str
    protein_heavy_atoms: int
    chains: int


@dataclass(frozen=True)
class SweepSettings:
    """What the measured `disco dock` run is asked for: `preset` the DockPreset fields (the default's, with the
    bench's overrides), `blind` no pocket."""
    preset: dict
    samples: int = 10
    seed: int = 0
    device: str = "cpu"
    model: str | None = None
    blind: bool = False
    threads: int = 1


def protein_size(protein_path: str | Path) -> tuple[int, int]:
    """(heavy atoms, chains) of a PDB file: its ATOM/HETATM records that are not hydrogens (up to the first
    ENDMDL), and the distinct chain identifiers among them."""
    from data_prep.protein import is_hydrogen_record

    atoms, chains = 0, set()
    with open(protein_path, errors="replace") as handle:
        for line in handle:
            if line.startswith("ENDMDL"):
                break
            if line.startswith(("ATOM", "HETATM")) and not is_hydrogen_record(line):
                atoms += 1
                chains.add(line[21:22])
    return atoms, len(chains)


def pick_sizes(sizes: dict[str, int]) -> list[tuple[str, str]]:
    """(size label, id) of the smallest, the median (the lower one of an even count) and the largest of `sizes`
    (id -> heavy atoms; ties broken by id), each id once: the largest always, the small one unless it is the
    largest, the medium one unless it is either."""
    if not sizes:
        return []
    ordered = sorted(sizes, key=lambda name: (sizes[name], name))
    last, middle = len(ordered) - 1, (len(ordered) - 1) // 2
    picks = [("small", 0)] if last > 0 else []
    if middle not in (0, last):
        picks.append(("medium", middle))
    picks.append(("largest", last))
    return [(label, ordered[index]) for label, index in picks]


def sweep_receptors(dataset: str | Path, split: str | Path | None = None) -> list[SweepReceptor]:
    """The small, medium and largest receptors of a PDBBind-style folder (the ids of `split`, else all), by
    heavy-atom count; complexes that are not complete are left out."""
    from benchmarks.dock_bench import DockBenchOptions, bench_jobs

    jobs = [job for job in bench_jobs(DockBenchOptions(dataset=str(dataset), out="", split=split))
            if not job.input_error and job.protein_path.endswith(".pdb")]
    measured = {job.name: (job, *protein_size(job.protein_path)) for job in jobs}
    return [SweepReceptor(label, name, measured[name][0].protein_path, measured[name][0].ligand,
                          measured[name][1], measured[name][2])
            for label, name in pick_sizes({name: value[1] for name, value in measured.items()})]


# ------------------------------------------------------------------------------- one receptor, fresh process

def measure_receptor(receptor: SweepReceptor, settings: SweepSettings, run_dir: Path) -> dict:
    """The stage seconds of one `disco dock` run in this process (see the module docstring); call it in a fresh
    interpreter, before anything heavy is imported."""
    start = time.perf_counter()
    from disco_core.cli import build_parser

    build_parser()                                   # `disco`: every package's subcommands
    importlib.import_module("docking.runs.run")      # `disco dock`, before it docks
    imports = time.perf_counter() - start

    import torch
    from rdkit import Chem

    from benchmarks.dock_bench import peak_rss_mb
    from docking.contacts.profiler import InteractionProfiler
    from docking.inference.ligand_docker import annotate_interactions
    from docking.inference.pipeline import recorded_stage_seconds
    from docking.request.dock_request import DockRequest
    from docking.runs.run import DockingRun

    torch.set_num_threads(settings.threads)
    request = DockRequest(out=str(run_dir), protein=receptor.protein_path, ligand=receptor.ligand_path,
                          name=receptor.id, autobox_ligand=None if settings.blind else receptor.ligand_path,
                          samples=settings.samples, seed=settings.seed, device=settings.device, model=settings.model,
                          interactions=False, **settings.preset)
    with recorded_stage_seconds() as stages:
        start = time.perf_counter()
        outcomes, last = [], start
        for outcome in DockingRun(request, distributed=False):
            outcomes.append(outcome)
            last = time.perf_counter()
        end = time.perf_counter()
    (outcome,) = outcomes
    if not outcome.ok:
        raise RuntimeError(f"{receptor.id}: not docked ({outcome.reason})")
    start_contacts = time.perf_counter()
    annotated, _ = annotate_interactions(InteractionProfiler(), outcome.result, receptor.protein_path)
    contacts = time.perf_counter() - start_contacts
    seconds = {"imports": imports, **{stage: stages.get(stage, 0.0) for stage in PIPELINE_STAGES},
               "report": end - last, "contacts": contacts}
    seconds["other"] = (end - start) - sum(stages.values()) - seconds["report"]
    ligand = Chem.MolFromMolFile(receptor.ligand_path) if receptor.ligand_path.endswith(".sdf") else None
    return {"seconds": seconds, "n_poses": len(outcome.result.poses),
            "ligand_heavy_atoms": ligand.GetNumHeavyAtoms() if ligand is not None else None,
            "contacts_error": (annotated.extras.get("interactions_error") or [""])[0],
            "peak_rss_mb": peak_rss_mb()}


def measure_in_fresh_process(receptor: SweepReceptor, settings: SweepSettings) -> dict:
    """measure_receptor in a new interpreter with `settings.threads` OpenMP/MKL threads; its run folder is a
    temporary one. A failure comes back as {"error": its last line}."""
    with tempfile.TemporaryDirectory(prefix="disco-size-sweep-") as scratch:
        spec, result = Path(scratch) / "spec.json", Path(scratch) / "result.json"
        spec.write_text(json.dumps({"receptor": asdict(receptor), "settings": asdict(settings),
                                    "run_dir": str(Path(scratch) / "run")}))
        threads = str(settings.threads)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-m", "benchmarks.size_sweep", str(spec), str(result)],
                              env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0 or not result.is_file():
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            return {"error": (lines[-1] if lines else f"exit code {done.returncode}")[:300]}
        return json.loads(result.read_text())


# ------------------------------------------------------------------------------------------- the records

def sweep_row(receptor: SweepReceptor, measured: dict) -> dict:
    """The CSV row of one receptor: its size, each stage's seconds (3 decimals), the total (their sum), the
    contacts' share of the total and what they add to the rest (contacts / (total - contacts))."""
    row = {"size": receptor.size, "id": receptor.id, "protein_heavy_atoms": receptor.protein_heavy_atoms,
           "chains": receptor.chains, "ligand_heavy_atoms": measured.get("ligand_heavy_atoms"),
           "n_poses": measured.get("n_poses"), "peak_rss_mb": measured.get("peak_rss_mb"),
           "error": measured.get("error") or measured.get("contacts_error") or ""}
    seconds = measured.get("seconds")
    if seconds is None:
        return {column: row.get(column) for column in CSV_COLUMNS}
    total = sum(seconds[stage] for stage in STAGE_COLUMNS)
    row.update({f"{stage}_seconds": round(seconds[stage], 3) for stage in STAGE_COLUMNS})
    row["total_seconds"] = round(total, 3)
    row["contacts_share"] = round(seconds["contacts"] / total, 4) if total > 0 else None
    rest = total - seconds["contacts"]
    row["contacts_added"] = round(seconds["contacts"] / rest, 4) if rest > 0 else None
    return {column: row.get(column) for column in CSV_COLUMNS}


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: "" if row[column] is None else row[column] for column in CSV_COLUMNS}
                     for row in rows)
    return buffer.getvalue()


def sweep_summary(rows: list[dict], settings: SweepSettings, dataset: str) -> dict:
    """The JSON record: settings, machine, the rows, and the target check on the largest receptor."""
    import torch

    largest = next((row for row in rows if row["size"] == "largest"), None)
    added = largest["contacts_added"] if largest else None
    return {"dataset": str(dataset), "settings": asdict(settings),
            "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                        "torch": torch.__version__, "python": platform.python_version()},
            "stages": list(STAGE_COLUMNS), "rows": rows,
            "target": {"contacts_added_on_largest": added, "at_most": 0.10,
                       "met": None if added is None else bool(added <= 0.10)}}


def run_size_sweep(dataset: str | Path, out: str | Path, settings: SweepSettings, split: str | Path | None = None,
                   progress: bool = True) -> dict:
    """Measure the small, medium and largest receptors one after another (each in a fresh process) and write
    OUT/size_sweep.csv and OUT/size_sweep.json (atomically); returns the JSON record."""
    from tqdm import tqdm

    from disco_core.errors import InputError
    from disco_core.io import atomic_open

    receptors = sweep_receptors(dataset, split)
    if not receptors:
        raise InputError(str(dataset), "no complete complexes to measure")
    rows = []
    for receptor in tqdm(receptors, desc="size sweep", unit="receptor", disable=not progress, dynamic_ncols=True):
        logger.info("%s (%s, %d heavy atoms)", receptor.id, receptor.size, receptor.protein_heavy_atoms)
        rows.append(sweep_row(receptor, measure_in_fresh_process(receptor, settings)))
    summary = sweep_summary(rows, settings, str(dataset))
    out = Path(out)
    with atomic_open(out / "size_sweep.csv", "w") as handle:
        handle.write(csv_text(rows))
    with atomic_open(out / "size_sweep.json", "w") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    return summary


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table: size, id, atoms, each stage's seconds, total, contacts added."""
    header = ["size", "id", "heavy atoms", "chains", *STAGE_COLUMNS, "total", "contacts added"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        if row.get("total_seconds") is None:
            lines.append(f"| {row['size']} | {row['id']} | {row['protein_heavy_atoms']} | {row['chains']} | "
                         f"failed: {row['error']} |")
            continue
        cells = [row["size"], row["id"], row["protein_heavy_atoms"], row["chains"],
                 *(f"{row[f'{stage}_seconds']:.2f}" for stage in STAGE_COLUMNS), f"{row['total_seconds']:.1f}",
                 "" if row["contacts_added"] is None else f"{100 * row['contacts_added']:.1f}%"]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _main(spec_path: str, result_path: str) -> int:
    """The fresh process of measure_in_fresh_process: read the spec, measure, write the result atomically."""
    spec = json.loads(Path(spec_path).read_text())
    measured = measure_receptor(SweepReceptor(**spec["receptor"]), SweepSettings(**spec["settings"]),
                                Path(spec["run_dir"]))
    from disco_core.io import atomic_write_text

    atomic_write_text(result_path, json.dumps(measured) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:3]))
