"""`disco dock`: dock ligands into proteins with the bundled (or a given) model.

Exit codes: 0 when the batch finished (failed items are in failures.csv), 1 when every item failed or
a user error stopped the run, 2 for a usage error. Under `torchrun --nproc-per-node G disco dock ...`
rank r docks items r, r + G, ... on its own device and the tables are merged at the end.
"""

from __future__ import annotations

import argparse
from dataclasses import fields


def register_dock(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dock", help="dock ligands into a protein (DisCo-DiffDock)",
        description="Dock ligands (SMILES, SDF with one or many molecules, MOL2, or a .smi list) into a protein "
                    "(PDB/mmCIF), or many pairs from a CSV. Writes OUT/<name>/rank*.sdf, poses.sdf and "
                    "interactions.csv, OUT/summary.csv, OUT/failures.csv and OUT/report.html (open it in a browser "
                    "to see the poses). Without a pocket option the docking is blind.")
    inputs = parser.add_argument_group("inputs (--protein with --ligand, or --csv)")
    inputs.add_argument("--protein", metavar="FILE", help="protein structure (PDB or mmCIF)")
    inputs.add_argument("--ligand", metavar="SMILES|FILE", help="SMILES, SDF (every record is a ligand), MOL2, .smi")
    inputs.add_argument("--name", help="output name for a single ligand (default: from the input)")
    inputs.add_argument("--csv", metavar="FILE", help="CSV with complex_name, protein_path, ligand_description")
    pocket = parser.add_argument_group("binding site (default: blind docking over the whole protein)")
    pocket.add_argument("--pocket-center", nargs=3, type=float, metavar=("X", "Y", "Z"), help="site centre (A)")
    pocket.add_argument("--pocket-residues", metavar="A:45,A:99", help="site = centroid of these residues' C-alphas")
    pocket.add_argument("--autobox-ligand", metavar="FILE", help="site = centroid of a reference ligand (SDF/MOL2)")
    pocket.add_argument("--pocket-radius", type=float, metavar="R",
                        help="receptor crop radius around the site (default: the model's training radius)")
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--samples", type=int, default=10, help="poses per ligand (default 10)")
    speed = sampling.add_mutually_exclusive_group()
    speed.add_argument("--fast", action="store_true",
                       help="the sampler alone for screens of very many ligands: 20 steps without the energy, "
                            "then each pose locally minimised in the interaction energy and ranked by it "
                            "(--physics-guidance 0 --steps 20 --refine-rounds 0 --rank-by energy). Measured on val, pocket "
                            "given, 10 poses: top-1 within 2 A 15%% against the default's 28%%, at 1/7 of its "
                            "time (README, \"Docking: the default against AutoDock Vina\")")
    speed.add_argument("--accurate", action="store_true",
                       help="the default setting, named (--physics-guidance 3 --steps 60 --refine-rounds 30 "
                            "--rank-by energy); kept for scripts written when it was an option")
    sampling.add_argument("--steps", type=int, default=None, help="reverse-diffusion steps (default 60; --fast 20)")
    sampling.add_argument("--seed", type=int, default=0, help="same seed, same poses (default 0)")
    sampling.add_argument("--batch-size", type=int, default=4, metavar="L",
                          help="ligands sampled together through the score model (default 4; larger on a GPU)")
    sampling.add_argument("--guidance", type=float, default=0.0, metavar="W",
                          help="classifier-free guidance weight on the latents (default 0)")
    sampling.add_argument("--physics-guidance", type=float, default=None, metavar="W",
                          help="steer the sampling with a Vina-form interaction energy: each score gets W times "
                               "minus its gradient (W in mol/kcal; default 3, --fast 0), samples are resampled by it "
                               "along the way and the final poses locally minimised in it. Every pose carries its "
                               "interaction_energy (sampled_interaction_energy once --rescore / --relax have moved it)")
    sampling.add_argument("--refine-rounds", type=int, default=None, metavar="K",
                          help="K rounds of Monte Carlo basin hopping in the interaction energy from each minimised "
                               "pose (mutate one degree of freedom, minimise, Metropolis), each pose kept only if "
                               "the search lowered its energy (default 30, --fast 0)")
    sampling.add_argument("--energy", choices=["pairwise", "grid", "grid+pairwise"], default=None,
                          help="how the physics evaluates the interaction energy: the pairwise sum (default) or "
                               "receptor grid maps built once per site (faster with many poses or ligands per site, "
                               "within ~0.1 kcal/mol of the sum), or grid+pairwise: the search on grid maps, the "
                               "last minimisation and the ranking in the pairwise sum")
    sampling.add_argument("--blind-sites", type=int, default=4, metavar="N",
                          help="candidate sites searched in blind docking (default 4)")
    physics = parser.add_argument_group("physical validity (extras: pip install '.[bench,relax]')")
    physics.add_argument("--rescore", choices=["vina"], help="add the Vina score (after Vina's local optimisation; "
                         "kcal/mol, a score, not a measured affinity) of every pose; the pose written is Vina's")
    physics.add_argument("--relax", action="store_true",
                         help="minimise every pose in its pocket with OpenMM (Amber ff14SB + GAFF2)")
    physics.add_argument("--relax-solvent", choices=["vacuum", "obc2"], default="vacuum",
                         help="relaxation solvent model (default vacuum; obc2 implicit solvent is slower on CPU)")
    physics.add_argument("--check", action="store_true", help="PoseBusters docking checks of every pose; "
                         "poses that pass every check are ranked ahead of those that fail")
    physics.add_argument("--no-valid-first", dest="valid_first", action="store_false",
                         help="with --check, keep the score order even when a lower pose is the valid one")
    physics.add_argument("--rank-by", choices=["confidence", "vina", "energy"], default=None,
                         help="order of the written poses: energy (the minimised interaction energy; the default), "
                              "vina (needs --rescore vina; the default with it) or confidence (the default with "
                              "--relax alone, whose poses the sampling energy no longer describes)")
    parser.add_argument("--model", metavar="DIR", help="model folder or training run (default: the bundled model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--write-complex", action="store_true", help="also write complex_rank1.pdb per ligand")
    outputs = parser.add_argument_group("what a person looks at")
    outputs.add_argument("--no-interactions", dest="interactions", action="store_false",
                         help="do not compute the protein contacts of each pose (ProLIF: hydrogen bonds, salt "
                              "bridges, pi-stacking, cation-pi, hydrophobic, metal, halogen; the SD property "
                              "`interactions` and OUT/<name>/interactions.csv). On by default: they cost "
                              "0.04-0.08 s per pose (measured on one loaded CPU core, 1s3v's pocket) after adding the "
                              "protein's hydrogens once (2-10 s for most proteins, up to ~100 s for the largest "
                              "multi-chain ones): 5-9%% of a --fast ligand's time, about 1%% of the default's")
    outputs.add_argument("--no-report", dest="report", action="store_false",
                         help="do not write OUT/report.html (a page that shows every ligand's ranked poses in "
                              "its pocket with their scores and contacts; opens offline)")
    parser.add_argument("--max-residues", type=int, default=10_000, help="refuse larger proteins (default 10000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_dock, _parser=parser)


def _fill_presets(args: argparse.Namespace) -> None:
    """Options the user did not give take the chosen preset's value (docking.inference.presets: the default,
    or --fast); the preset's energy ranking gives way to Vina's when --rescore vina moves the poses, and to
    the confidence when only --relax does."""
    from docking.inference.presets import DEFAULT, FAST

    preset = vars(FAST if args.fast else DEFAULT).copy()
    if args.rescore:
        preset["rank_by"] = "vina"
    elif args.relax:
        preset["rank_by"] = "confidence"
    given = {name for name in preset if getattr(args, name) is not None}
    for name, value in preset.items():
        if name not in given:
            setattr(args, name, value)
    if "refine_rounds" not in given and not (args.physics_guidance > 0 or args.rank_by == "energy"):
        args.refine_rounds = 0       # no energy to search in: the preset's rounds do not apply


def _validate(args: argparse.Namespace) -> None:
    parser = args._parser
    _fill_presets(args)
    if bool(args.csv) == bool(args.protein or args.ligand):
        parser.error("give either --protein with --ligand, or --csv")
    if not args.csv and not (args.protein and args.ligand):
        parser.error("--protein and --ligand go together")
    if sum(x is not None for x in (args.pocket_center, args.pocket_residues, args.autobox_ligand)) > 1:
        parser.error("give at most one of --pocket-center, --pocket-residues, --autobox-ligand")
    if args.rank_by == "vina" and args.rescore != "vina":
        parser.error("--rank-by vina needs --rescore vina")
    if args.rank_by == "energy" and (args.rescore or args.relax):
        parser.error("--rank-by energy ranks the sampled poses, which --rescore / --relax move; use --rank-by vina")
    if args.physics_guidance < 0:
        parser.error("--physics-guidance must be >= 0")
    if args.refine_rounds < 0:
        parser.error("--refine-rounds must be >= 0")
    if args.refine_rounds > 0 and not (args.physics_guidance > 0 or args.rank_by == "energy"):
        parser.error("--refine-rounds needs the interaction energy (--physics-guidance W > 0 or --rank-by energy)")
    if args.samples < 1 or args.steps < 1 or args.batch_size < 1:
        parser.error("--samples, --steps and --batch-size must be at least 1")


class _ProgressBar:
    """A tqdm bar for `run_docking`'s progress (docking.inference.docking_run.DockProgress)."""

    def __init__(self, disable: bool):
        self.disable, self.bar = disable, None

    def start(self, total: int | None, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="ligand", disable=self.disable, desc=label)

    def advance(self, n_ok: int, n_failed: int) -> None:
        self.bar.update(1)
        self.bar.set_postfix(ok=n_ok, failed=n_failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_dock(args: argparse.Namespace) -> int:
    _validate(args)
    from docking.inference.docking_run import DockRequest, run_docking

    request = DockRequest(**{field.name: getattr(args, field.name) for field in fields(DockRequest)})
    progress = _ProgressBar(disable=args.no_progress)
    try:
        counts = run_docking(request, progress)
    finally:
        progress.close()
    if counts.rank == 0:
        print(f"docked {counts.n_ok} ligand(s), {counts.n_failed} failed -> {counts.out_dir}/ "
              "(summary.csv, failures.csv" + (f", {counts.report.name}" if counts.report else "") + ")")
    if counts.n_ok == 0 and counts.n_failed > 0:
        return 1
    return 0
