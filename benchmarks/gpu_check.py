"""`disco bench gpu`: one short prepared check of the GPU path, for the few minutes a GPU is at hand.

    1. the CUDA tests (tests/gpu, markers cuda and multi_gpu), in a child pytest
    2. `disco dock` (the default and --fast) on the shipped complexes with a protein (examples/1s3v,
       tests/data/regression/1v2s, tests/data/complexes/*), pocket from the crystal ligand, on the CPU and on the
       GPU in the same run: seconds per ligand from each run's summary.csv (docking only, the model's loading
       apart) and the run's wall time
    3. a screen of the 100 shipped ligands (benchmarks/results/report_screen100/screen100.smi) into 1s3v's pocket
       with --fast on the GPU: ligands per hour and peak GPU memory

It writes OUT/gpu_check.json (device name, torch / CUDA / cuDNN versions, every time above) to commit under
benchmarks/results/. Without a GPU it does nothing and says so in one line (`GpuCheckSkipped`).
"""

from __future__ import annotations

import csv
import json
import logging
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from benchmarks.shipped import ROOT, SCREEN_SITE, shipped_complexes
from disco_core.io import atomic_write_text

log = logging.getLogger(__name__)

SCREEN_LIGANDS = ROOT / "benchmarks" / "results" / "report_screen100" / "screen100.smi"


class GpuCheckSkipped(Exception):
    """No CUDA device here: nothing was run and no record written."""


def device_facts() -> dict:
    import torch

    facts = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
             "machine": platform.machine(), "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        facts.update(device=torch.cuda.get_device_name(0), device_count=torch.cuda.device_count(),
                     cudnn=torch.backends.cudnn.version(),
                     memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    return facts


def run_cuda_tests(timeout_s: int = 300) -> dict:
    """tests/gpu's CUDA tests in a child pytest; its counts and exit code."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda or multi_gpu",
               str(ROOT / "tests" / "gpu")]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|error|errors|skipped|deselected)",
                                                     tail[0])}
    return {"exit_code": done.returncode, "counts": counts, "summary": tail[0],
            "seconds": round(time.perf_counter() - start, 1)}


def timed_dock(out: Path, device: str, fast: bool, protein: Path, ligand: str | Path, pocket_ligand: Path,
               samples: int = 10) -> dict:
    """One `disco dock` run in this process: its wall time, the per-ligand docking seconds of its summary.csv and,
    on a GPU, the peak memory the run allocated."""
    import torch

    from docking.request.dock_request import DockRequest
    from docking.request.presets import preset_settings
    from docking.runs.run import run_docking

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    request = DockRequest(out=str(out), protein=str(protein), ligand=str(ligand), autobox_ligand=str(pocket_ligand),
                          samples=samples, device=device, report=False, **preset_settings(fast))
    start = time.perf_counter()
    counts = run_docking(request)
    wall = time.perf_counter() - start
    with (out / "summary.csv").open(newline="") as handle:
        seconds = [float(row["seconds"]) for row in csv.DictReader(handle) if row["status"] == "ok"]
    return {"wall_seconds": round(wall, 2), "ok": counts.n_ok, "failed": counts.n_failed,
            "median_seconds_per_ligand": round(median(seconds), 3) if seconds else None,
            "peak_gpu_memory_mib": (round(torch.cuda.max_memory_allocated() / 2**20, 1)
                                    if device.startswith("cuda") else None)}


def run_gpu_check(out: str | Path, complexes: int = 5, run_tests: bool = True, screen: bool = True) -> dict:
    """The whole check; OUT/gpu_check.json. Raises GpuCheckSkipped where no CUDA device is present."""
    import torch

    if not torch.cuda.is_available():
        raise GpuCheckSkipped("no CUDA GPU here (torch.cuda.is_available() is False): nothing run, no record "
                              "written")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"facts": device_facts(), "settings": {"complexes": complexes, "samples": 10, "seed": 0,
                                                          "pocket": "the crystal ligand", "threads": 1}}
    torch.set_num_threads(1)
    if run_tests:
        record["cuda_tests"] = run_cuda_tests()
        log.info("CUDA tests: %s", record["cuda_tests"]["summary"])
    docking: dict = {}
    for item in shipped_complexes(complexes):
        for mode in ("default", "fast"):
            for device in ("cpu", "cuda"):
                key = f"{item.name}/{mode}/{device}"
                docking[key] = timed_dock(out / "runs" / item.name / mode / device, device, mode == "fast",
                                          item.protein, item.ligand, item.ligand)
                log.info("%s: %s", key, docking[key])
    record["docking"] = docking
    names = [item.name for item in shipped_complexes(complexes)]
    record["gpu_speedup"] = {
        mode: _ratio([docking[f"{name}/{mode}/cpu"]["median_seconds_per_ligand"] for name in names],
                     [docking[f"{name}/{mode}/cuda"]["median_seconds_per_ligand"] for name in names])
        for mode in ("default", "fast")}
    if screen:
        result = timed_dock(out / "runs" / "screen100", "cuda", True, SCREEN_SITE / "1s3v_protein.pdb",
                            SCREEN_LIGANDS, SCREEN_SITE / "1s3v_ligand.sdf", samples=3)
        result["ligands_per_hour"] = round(3600 * result["ok"] / result["wall_seconds"], 1)
        record["screen100_fast_cuda"] = result
    atomic_write_text(out / "gpu_check.json", json.dumps(record, indent=2) + "\n")
    return record


def _ratio(cpu: list[float | None], gpu: list[float | None]) -> float | None:
    """Median over complexes of CPU seconds / GPU seconds (how many times faster the GPU docks a ligand)."""
    pairs = [c / g for c, g in zip(cpu, gpu) if c and g]
    return round(median(pairs), 2) if pairs else None
