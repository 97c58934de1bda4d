"""Does the interactions' receptor preparation work on real proteins, and how long does it take? 4pb2 and
1a0q (the first failures met) and 28 more complexes of ../shared/data drawn with seed 1, each protonated once
and its crystal ligand's contacts computed. Run from the repository root:
OMP_NUM_THREADS=1 python benchmarks/results/report_screen100/receptor_sample.py"""

import glob
import random
import time
from pathlib import Path

from rdkit import Chem

from disco_core.errors import InputError
from docking.inference.interactions import InteractionProfiler, interaction_summary

SHARED = Path(__file__).parents[3].parent / "shared" / "data" / "complexes"
proteins = sorted(glob.glob(str(SHARED / "*" / "*_protein.pdb")))
random.seed(1)
sample = [str(SHARED / "4pb2" / "4pb2_protein.pdb"), str(SHARED / "1a0q" / "1a0q_protein.pdb")] + random.sample(proteins, 28)
seconds, failed = [], []
for protein in sample:
    complex_id = Path(protein).parent.name
    ligand = Chem.MolFromMolFile(protein.replace("_protein.pdb", "_ligand.sdf"))
    start = time.perf_counter()
    try:
        contacts = InteractionProfiler().pose_interactions(protein, [ligand], complex_id)[0]
        seconds.append(time.perf_counter() - start)
        print(f"{complex_id} {seconds[-1]:.1f} s {interaction_summary(contacts)[:90]}", flush=True)
    except InputError as exc:
        failed.append(complex_id)
        print(f"{complex_id} FAILED {exc}", flush=True)
seconds.sort()
print(f"{len(seconds)} ok, {len(failed)} failed {failed}; seconds median {seconds[len(seconds) // 2]:.1f}, "
      f"max {seconds[-1]:.1f}")
