"""Virtual-screening scale: `disco dock` on an SDF library against one protein, measuring seconds per
ligand, ligands per hour and the process's peak memory at several library sizes (constant memory = the peak
does not grow with the library). The library is built from real ligands (../shared/data's index SMILES), cycled
and renamed to the requested size; each size runs `disco dock` as a fresh process. Several step counts
(`steps`) run one after the other on each library, so their speeds compare within one run (machines are
noisy); `threads` fixes the child's torch/OpenMP threads."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rdkit import Chem

from disco_core.io import atomic_write_text


# `disco dock` in a child process that reports its own peak resident memory when it finishes.
_MEASURED_MAIN = ("import resource, sys; from disco_core.cli import main; code = main(sys.argv[1:]); "
                  "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
                  "sys.exit(code)")


def write_library(smiles: list[str], size: int, path: Path) -> Path:
    """An SDF of `size` molecules (2-D records: disco dock generates its own conformers)."""
    writer = Chem.SDWriter(str(path))
    for i in range(size):
        mol = Chem.MolFromSmiles(smiles[i % len(smiles)])
        mol.SetProp("_Name", f"lig{i:06d}")
        writer.write(mol)
    writer.close()
    return path


def library_smiles(index_csv: str | Path, max_heavy_atoms: int = 60) -> list[str]:
    with Path(index_csv).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["ligand_smiles"] for r in rows if int(r["n_ligand_heavy_atoms"]) <= max_heavy_atoms
            and Chem.MolFromSmiles(r["ligand_smiles"]) is not None]


def run_screen(protein: str, autobox_ligand: str, index_csv: str, sizes: list[int], out_dir: str | Path,
               samples: int = 10, batch_size: int = 4, device: str = "cpu", model: str | None = None,
               mode: str = "fast", steps: list[int | None] | None = None, threads: int | None = None) -> list[dict]:
    """One fresh `disco dock` process per library size and step count (`--fast`, the screening mode, unless mode
    is "default"; a step count of None is the mode's own); its peak RSS as the OS reports it (ru_maxrss).
    `threads` sets OMP_NUM_THREADS and MKL_NUM_THREADS of the child (None: inherited)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    smiles = library_smiles(index_csv)
    env = dict(os.environ)
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    results = []
    for size in sizes:
        library = write_library(smiles, size, out_dir / f"library_{size}.sdf")
        for step_count in steps or [None]:
            dock_out = out_dir / (f"dock_{size}" if step_count is None else f"dock_{size}_steps{step_count}")
            if dock_out.is_dir():      # a rerun measures afresh (disco dock refuses an --out that holds a run)
                shutil.rmtree(dock_out)
            command = [sys.executable, "-c", _MEASURED_MAIN, "dock", "--protein", protein, "--ligand",
                       str(library), "--autobox-ligand", autobox_ligand, "--samples", str(samples), "--batch-size",
                       str(batch_size), "--device", device, "--out", str(dock_out), "--no-progress"]
            if model:
                command += ["--model", model]
            if mode == "fast":
                command.append("--fast")
            if step_count is not None:
                command += ["--steps", str(step_count)]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - start
            peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KIB")]
            with (dock_out / "summary.csv").open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            results.append({
                "ligands": size, "steps": step_count, "ok": sum(r["status"] == "ok" for r in rows),
                "exit_code": done.returncode, "seconds": round(seconds, 2),
                "seconds_per_ligand": round(seconds / size, 3), "ligands_per_hour": round(3600 * size / seconds),
                "peak_rss_mb": round(int(peak[0]) / 1024, 1) if peak else None,
            })
    summary = {"samples": samples, "batch_size": batch_size, "device": device, "mode": mode, "threads": threads,
               "runs": results}
    atomic_write_text(out_dir / "screen.json", json.dumps(summary, indent=2) + "\n")
    return results
