"""What the report and the interactions cost on a finished `disco dock` run: the report's size (page, the
shared viewer and protein scripts, the per-ligand data scripts), the time to build it from scratch and again
when nothing changed, and ProLIF's time per pose on every written pose (the receptor's preparation, done once
per protein, timed apart). Prints the figures; the run folder's report is rebuilt in place.
    OMP_NUM_THREADS=1 python -m benchmarks.studies.report_screen100_measure runs/screen100 \
        examples/1s3v/1s3v_protein.pdb"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

from rdkit import Chem

from benchmarks.studies import log_to_console
from docking.contacts.profiler import InteractionProfiler
from docking.report.page import ASSETS, LIGAND_DATA, write_run_report


log = logging.getLogger("report_screen100_measure")

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a finished `disco dock` run folder (its report is rebuilt)")
    parser.add_argument("protein", help="the protein the run docked into")
    args = parser.parse_args(argv)
    out, protein = args.run, args.protein
    for data in out.glob(f"*/{LIGAND_DATA}"):
        data.unlink()
    start = time.perf_counter()
    write_run_report(out)
    log.info("%s", f"report from scratch: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    write_run_report(out)
    log.info("%s", f"report again, nothing changed: {time.perf_counter() - start:.3f} s")
    page = (out / "report.html").stat().st_size
    assets = sum(p.stat().st_size for p in (out / ASSETS).rglob("*") if p.is_file())
    ligands = sorted(p.stat().st_size for p in out.glob(f"*/{LIGAND_DATA}"))
    log.info("%s", f"page {page} B; {ASSETS}/ {assets} B (viewer, licences, proteins); {len(ligands)} ligand scripts "
                   f"{sum(ligands)} B (median {statistics.median(ligands):.0f} B, max {max(ligands)} B); "
                   f"total {page + assets + sum(ligands)} B")

    poses = [[m for m in Chem.SDMolSupplier(str(p))] for p in sorted(out.glob("*/poses.sdf"))]
    profiler = InteractionProfiler()
    start = time.perf_counter()
    profiler.receptor(protein)
    log.info("%s", f"receptor protonated for ProLIF: {time.perf_counter() - start:.2f} s (once per protein)")
    start = time.perf_counter()
    for ligand_poses in poses:
        profiler.pose_interactions(protein, ligand_poses)
    n = sum(map(len, poses))
    log.info("%s", f"interactions of {n} poses of {len(poses)} ligands: {time.perf_counter() - start:.1f} s, "
                   f"{1000 * (time.perf_counter() - start) / n:.0f} ms per pose")


if __name__ == "__main__":
    log_to_console()
    main()
