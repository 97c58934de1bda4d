"""`disco dock`: dock ligands into proteins with the bundled (or a given) model; `disco dock merge`: join the
output folders of a run's shards.

Exit codes: 0 when the batch finished (failed items are in failures.csv), 1 when every item failed or
a user error stopped the run (an --out that holds another run, --resume with other options, shards
that overlap), 2 for a usage error (a bad --shard, options that do not fit together).

    --out       an --out that holds a run (a summary.csv) is refused: --resume it, or give a new --out
    --resume    continues the run in --out: the ligands its summary.csv holds (docked or failed) are skipped,
                the others docked; refused when the inputs or an option that changes results differ from
                OUT/run.json. A ligand a kill interrupted is docked again
    --shard I/N docks part I (1..N) of N: the input's batches of --batch-size ligands are dealt in turn to
                the parts (batch b to part b mod N + 1), so a job array's parts give the poses of one run;
                each part has its own --out, `disco dock merge` joins them
    torchrun    `torchrun --nproc-per-node G disco dock ...`: each rank docks its share of the batches (of
                the shard, with --shard) on its own device; rank 0 joins the tables at the end

The docking itself is docking.runs.run.DockingRun, which the Python API (`docking.dock`)
runs too.
"""

from __future__ import annotations

import argparse
from dataclasses import fields


def _shard(text: str):
    from disco_core.errors import InputError
    from docking.request.shard import parse_shard

    try:
        return parse_shard(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _one_line_usage_errors(parser: argparse.ArgumentParser) -> None:
    """A usage error as one line, the error and where to read more, instead of dock's long usage block."""
    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")
    parser.error = error


def register_dock(subparsers: argparse._SubParsersAction) -> None:
    from docking.request.dock_request import ENERGY_CHOICES, RANK_CHOICES

    parser = subparsers.add_parser(
        "dock", help="dock ligands into a protein (DisCo-DiffDock); `dock merge` joins shards",
        description="Dock ligands (SMILES, SDF with one or many molecules, MOL2, or a .smi list) into a protein "
                    "(PDB/mmCIF), or many pairs from a CSV. Writes OUT/<name>/rank*.sdf and poses.sdf, "
                    "OUT/summary.csv and OUT/failures.csv (a row per ligand as it finishes) and OUT/run.json "
                    "(the inputs and options). Without a pocket option the docking is blind. An --out that "
                    "already holds a run is refused (--resume it, or give a new --out). "
                    "`disco dock merge OUT1 OUT2 ... --out OUT` joins the folders of --shard parts "
                    "(disco dock merge --help).")
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
                       help="the sampler alone for screens of very many ligands: 8 steps without the energy, "
                            "then each pose locally minimised in the interaction energy and ranked by it "
                            "(--physics-guidance 0 --steps 20 --refine-rounds 0 --rank-by energy --energy pairwise). "
                            "Measured on test, pocket given, 10 poses, seeds 0 + 1, in one run: top-1 within 2 A "
                            "14%% against the default's 25%%, paired time 0.10 against the default's 0.31 of "
                            "Vina's (benchmarks/results/default_s30_vs_vina)")
    speed.add_argument("--accurate", action="store_true",
                       help="the default setting, named (--physics-guidance 3 --steps 30 --refine-rounds 30 "
                            "--random-starts 30 --energy grid+pairwise --rank-by energy); kept for scripts written "
                            "when it was an option")
    sampling.add_argument("--steps", type=int, default=None, help="reverse-diffusion steps (default 30; --fast 20)")
    sampling.add_argument("--seed", type=int, default=0, help="same seed, same poses (default 0)")
    sampling.add_argument("--batch-size", type=int, default=4, metavar="L",
                          help="ligands sampled together through the score model (default 4; larger on a GPU)")
    sampling.add_argument("--guidance", type=float, default=0.0, metavar="W",
                          help="classifier-free guidance weight on the latents (default 0)")
    sampling.add_argument("--physics-guidance", type=float, default=None, metavar="W",
                          help="steer the sampling with a Vina-form interaction energy: each score gets W times "
                               "minus its gradient (W in mol/kcal; default 3, --fast 0), samples are resampled by it "
                               "along the way and the final poses locally minimised in it. Every pose carries its "
                               "interaction_energy and that energy's receptor-ligand part, intermolecular_energy "
                               "(sampled_... once --rescore / --relax have moved the pose)")
    sampling.add_argument("--refine-rounds", type=int, default=None, metavar="K",
                          help="K rounds of Monte Carlo basin hopping in the interaction energy from each minimised "
                               "pose (mutate one degree of freedom, minimise, Metropolis), each pose kept only if "
                               "the search lowered its energy (default 30, --fast 0)")
    sampling.add_argument("--refine-chains", type=int, default=None, metavar="C",
                          help="C independent basin-hopping chains from each minimised pose, the lowest-energy end "
                               "kept (C times the refinement's cost; default 1)")
    sampling.add_argument("--random-starts", type=int, default=None, metavar="R",
                          help="R further basin-hopping chains from random poses in the site (centroid within 4 A of "
                               "its centre, random orientation and torsions), beside the samples' chains; the "
                               "lowest-energy poses of all chains, at least 1 A apart, are kept (default 30, --fast 0)")
    sampling.add_argument("--energy", choices=ENERGY_CHOICES, default=None,
                          help="how the physics evaluates the interaction energy: grid+pairwise (the default): the "
                               "search on receptor grid maps built once per site, the last minimisation and the "
                               "ranking in the exact pairwise sum; grid: the maps alone (within ~0.1 kcal/mol of "
                               "the sum); pairwise: the sum alone (--fast)")
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
    physics.add_argument("--rank-by", choices=RANK_CHOICES, default=None,
                         help="order of the written poses: energy (the minimised interaction energy; the default), "
                              "intermolecular (its receptor-ligand part alone; Vina itself orders its modes by the total), "
                              "vina (needs --rescore vina; the default with it), scorer (the model folder's learned pose scorer, "
                              "docking.scoring.pose_scorer) or confidence (the default with "
                              "--relax alone, whose poses the sampling energy no longer describes)")
    parser.add_argument("--model", metavar="DIR", help="model folder or training run (default: the bundled model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--out", metavar="DIR", help="output folder (required); one that holds a run "
                        "(a summary.csv) is refused unless --resume")
    screen = parser.add_argument_group("long screens and clusters")
    screen.add_argument("--resume", action="store_true",
                        help="continue the run in --out: skip the ligands its summary.csv holds (docked or failed), "
                             "dock the rest; a ligand a kill interrupted is docked again. Refused (one line naming "
                             "the option) when the inputs or an option that changes results (seed, samples, steps, "
                             "batch size, model, energy, pocket, ...) differ from OUT/run.json; on an --out without "
                             "a run it just runs. Failed ligands are not retried")
    screen.add_argument("--shard", type=_shard, metavar="I/N",
                        help="dock part I of N (I = 1..N), for the N tasks of a job array: the input's batches of "
                             "--batch-size ligands are dealt in turn to the parts (batch b to part b mod N + 1), "
                             "so the parts' poses are those of one run. Give each part its own --out and join them "
                             "with `disco dock merge`; under torchrun each part's batches are dealt to the ranks")
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
    _one_line_usage_errors(parser)
    commands = parser.add_subparsers(title="joining shards", metavar="merge", dest="dock_command")
    merge = commands.add_parser(
        "merge", help="join the output folders of a run's --shard parts",
        description="Join the output folders of the --shard parts of one run (or of runs of one request that "
                    "docked different ligands) into OUT: summary.csv and failures.csv in input order, and "
                    "OUT/<name>/ with each ligand's files hard-linked from its part where OUT is on the same "
                    "file system (no extra space; the parts are left as they are and can be deleted "
                    "afterwards), copied otherwise. Refused, before anything is written: parts whose run.json "
                    "differ, two parts holding one shard, ligand index or name, an unfinished part, an OUT "
                    "that is not empty. A missing shard is named in a warning.")
    merge.add_argument("sources", nargs="+", metavar="OUT_PART", help="the parts' output folders")
    merge.add_argument("--out", required=True, metavar="DIR", help="the joined folder (new or empty)")
    merge.add_argument("--copy", action="store_true", help="copy the ligands' files instead of hard-linking them")
    merge.add_argument("--no-report", dest="report", action="store_false",
                       help="do not write OUT/report.html for the joined folder")
    merge.set_defaults(run=run_merge, _parser=merge)
    _one_line_usage_errors(merge)


def _fill_presets(args: argparse.Namespace) -> None:
    """Options the user did not give take the chosen preset's value (docking.request.presets.preset_settings:
    the default, or --fast)."""
    from docking.request.presets import DockPreset, preset_settings

    given = {name: getattr(args, name) for name in DockPreset.__dataclass_fields__}
    for name, value in preset_settings(args.fast, args.rescore, args.relax, **given).items():
        setattr(args, name, value)


def _validate(args: argparse.Namespace):
    """The DockRequest of the arguments; a usage error (exit 2) when they do not fit together."""
    from disco_core.errors import InputError
    from docking.request.dock_request import DockRequest

    parser = args._parser
    scorer_asked = args.rank_by == "scorer"
    _fill_presets(args)
    if not args.out:
        parser.error("the following arguments are required: --out")
    if bool(args.csv) == bool(args.protein or args.ligand):
        parser.error("give either --protein with --ligand, or --csv")
    if not args.csv and not (args.protein and args.ligand):
        parser.error("--protein and --ligand go together")
    try:
        request = DockRequest(**{field.name: getattr(args, field.name) for field in fields(DockRequest)})
        if scorer_asked:      # asked for by name: a model folder without one is a usage error, not a fallback
            from docking.inference.model_folder import check_pose_scorer

            check_pose_scorer(args.model)
        return request
    except InputError as exc:
        parser.error(str(exc))


class _ProgressBar:
    """A tqdm bar for `run_docking`'s progress (docking.runs.run.DockProgress)."""

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
    request = _validate(args)
    from docking.runs.run import run_docking

    progress = _ProgressBar(disable=args.no_progress)
    try:
        counts = run_docking(request, progress)
    finally:
        progress.close()
    if counts.rank == 0:
        part = f" (shard {counts.shard})" if counts.shard is not None else ""
        before = counts.ok_before + counts.failed_before
        earlier = f"; {before} finished before (--resume)" if before else ""
        print(f"docked {counts.n_ok} ligand(s){part}, {counts.n_failed} failed{earlier} -> {counts.out_dir}/ "
              "(summary.csv, failures.csv" + (f", {counts.report.name}" if counts.report else "") + ")")
    return 1 if counts.every_item_failed else 0


def run_merge(args: argparse.Namespace) -> int:
    from docking.runs.merge import merge_runs

    counts = merge_runs(args.sources, args.out, copy=args.copy, report=args.report)
    files = f"{counts.linked_files} file(s) hard-linked, {counts.copied_files} copied"
    print(f"merged {len(args.sources)} folder(s): {counts.n_ok} ligand(s) docked, {counts.n_failed} failed "
          f"({files}) -> {counts.out_dir}/ (summary.csv, failures.csv"
          + (f", {counts.report.name}" if counts.report else "") + ")")
    return 0
