"""Does the interactions' receptor preparation work on real proteins, and how long does it take? 4pb2 and
1a0q (the first failures met) and 28 more complexes of the dataset drawn with seed 1, each protonated once
and its crystal ligand's contacts computed. Prints one line per complex and the totals.
    OMP_NUM_THREADS=1 python -m benchmarks.studies.report_screen100_receptor_sample \
        --dataset ../shared/data/complexes"""

from __future__ import annotations

import argparse
import logging
import glob
import random
import time
from pathlib import Path

from rdkit import Chem

from benchmarks.studies import DATASET, log_to_console
from disco_core.errors import InputError
from docking.contacts.profiler import InteractionProfiler, interaction_summary


log = logging.getLogger("report_screen100_receptor_sample")

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DATASET, metavar="DIR",
                        help="complexes, DIR/<id>/<id>_protein.pdb and <id>_ligand.sdf (default "
                             "../shared/data/complexes beside the repository)")
    args = parser.parse_args(argv)
    proteins = sorted(glob.glob(str(args.dataset / "*" / "*_protein.pdb")))
    random.seed(1)
    sample = [str(args.dataset / "4pb2" / "4pb2_protein.pdb"), str(args.dataset / "1a0q" / "1a0q_protein.pdb")] \
        + random.sample(proteins, 28)
    seconds, failed = [], []
    for protein in sample:
        complex_id = Path(protein).parent.name
        ligand = Chem.MolFromMolFile(protein.replace("_protein.pdb", "_ligand.sdf"))
        start = time.perf_counter()
        try:
            contacts = InteractionProfiler().pose_interactions(protein, [ligand], complex_id)[0]
            seconds.append(time.perf_counter() - start)
            log.info("%s", f"{complex_id} {seconds[-1]:.1f} s {interaction_summary(contacts)[:90]}")
        except InputError as exc:
            failed.append(complex_id)
            log.info("%s", f"{complex_id} FAILED {exc}")
    seconds.sort()
    log.info("%s", f"{len(seconds)} ok, {len(failed)} failed {failed}; seconds median {seconds[len(seconds) // 2]:.1f}, "
                   f"max {seconds[-1]:.1f}")


if __name__ == "__main__":
    log_to_console()
    main()
