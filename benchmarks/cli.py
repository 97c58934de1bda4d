"""`disco bench`: reproducible measurements."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="reproducible measurements (toy over seeds, docking accuracy and speed)")
    kinds = parser.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    kinds.required = True
    toy = kinds.add_parser(
        "toy", help="the 2-D toy (EDM vs DisCo-EDM) over several seeds; --sweep: over solver steps and widths",
        description="Runs `disco toy` for each seed (resumable) and writes OUT/summary.csv/.md. With --sweep: trains "
                    "the baseline and DisCo once per (width, seed), samples each with Euler and Heun at every "
                    "evaluation budget, and writes OUT/results.csv, summary.csv/.md/.json, w2.png and curvature.png "
                    "(resumable: rerun the same command).")
    toy.add_argument("--out", required=True)
    toy.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    toy.add_argument("--threads", type=int, default=1)
    sweep = toy.add_argument_group("sweep (only with --sweep)")
    sweep.add_argument("--sweep", action="store_true", help="W2, curvature and Jacobian over solver steps and widths")
    sweep.add_argument("--widths", type=int, nargs="+", metavar="W", help="denoiser widths (default 32 64 128 256)")
    sweep.add_argument("--evaluations", type=int, nargs="+", metavar="B",
                       help="network-evaluation budgets, each >= 2: Euler B steps, Heun the fewest steps reaching B "
                            "(2N-1 evaluations, so B+1 for even B) (default 2 4 8 16 50)")
    sweep.add_argument("--train-steps", type=int, metavar="N",
                       help="training steps per model (default the toy's, 10000)")
    sweep.add_argument("--prior-steps", type=int, metavar="N",
                       help="training steps of DisCo's prior (default the toy's, 3000)")
    sweep.add_argument("--samples", type=int, metavar="N",
                       help="samples and test points per W2, a multiple of 8 (default 4000; exact W2 is O(N^3))")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bars")
    toy.set_defaults(run=run_toy_bench)
    _register_dock(kinds)
    _register_speed(kinds)
    _register_screen(kinds)
    _register_pockets(kinds)
    _register_failures(kinds)
    _register_pool(kinds)
    _register_gpu(kinds)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, metavar="DIR",
                        help="PDBBind-style folder: <id>/<id>_protein.pdb, <id>_ligand.sdf (optional <id>_ligands.sdf)")
    parser.add_argument("--out", required=True, metavar="RUN", help="run folder (rerun to resume)")
    parser.add_argument("--model", action="append", metavar="DIR",
                        help="DisCo model folder; repeat for several (default: the bundled model)")
    parser.add_argument("--pocket", choices=["reference", "blind"], default="reference",
                        help="reference: site from the crystal ligand (DisCo centre, Vina box + 4 A); "
                             "blind: whole protein (default reference)")
    parser.add_argument("--samples", type=int, default=10, help="poses per complex (default 10)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="reverse-diffusion steps of the DisCo methods (default: `disco dock`'s, 30; "
                             "disco/fast always runs its preset)")
    parser.add_argument("--energy", choices=["pairwise", "grid", "grid+pairwise"],
                        help="the DisCo methods' interaction energy (default: `disco dock`'s, grid+pairwise)")
    parser.add_argument("--exhaustiveness", type=int, default=8, help="Vina exhaustiveness (default 8)")
    parser.add_argument("--vina-cpu", type=int, default=1, help="Vina threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="DisCo device: auto, cpu, cuda[:N] (default auto)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _register_dock(kinds: argparse._SubParsersAction) -> None:
    dock = kinds.add_parser(
        "dock", help="docking accuracy: DisCo vs AutoDock Vina on a PDBBind-style set",
        description="Docks every complex with each method from the ligand's topology (never the crystal pose) and "
                    "writes RUN/<method>/<id>.json + .sdf, RUN/results.csv, RUN/failures.csv, RUN/summary.json, "
                    "RUN/report.md and RUN/plots/. Rerunning the same command resumes.")
    _add_common(dock)
    dock.add_argument("--split", metavar="FILE", help="ids to use, one per line (default: every folder)")
    dock.add_argument("--methods", default="disco,vina",
                      help="comma-separated: disco (`disco dock`'s default), disco/fast (`disco dock --fast`), "
                           "vina; ablations of the default: disco/physics-only (the learned score set to 0, the same "
                           "search), disco/null-latent (the score model's null latent instead of the prior's picks); "
                           "the default's poses ranked by disco/energy-ranked (the interaction energy) or "
                           "disco/scorer-ranked (the learned pose scorer); "
                           "post-processing of the default's poses: disco+vina (Vina's local optimisation and "
                           "ranking), disco+relax (OpenMM relaxation, PoseBusters-valid poses ranked first), "
                           "disco+vina+relax (both) (default disco,vina)")
    dock.add_argument("--physics-guidance", type=float, metavar="W",
                      help="energy-guidance weight of the DisCo methods (default: `disco dock`'s, 3)")
    dock.add_argument("--refine-rounds", type=int, metavar="K",
                      help="basin-hopping rounds of the DisCo methods (default: `disco dock`'s, 30)")
    dock.add_argument("--refine-chains", type=int, metavar="C",
                      help="basin-hopping chains per pose of the DisCo methods (default: `disco dock`'s, 1)")
    dock.add_argument("--random-starts", type=int, metavar="R",
                      help="basin-hopping chains from random poses of the DisCo methods (default: `disco dock`'s)")
    dock.add_argument("--vina-timeout", type=float, metavar="S",
                      help="stop Vina after S seconds on a complex, which then counts as Vina's miss (default: "
                           "no limit; Vina needs up to 1.5 h on the 40+-torsion ligands of our splits)")
    dock.add_argument("--limit", type=int, metavar="N", help="first N complexes only")
    dock.add_argument("--no-interactions", dest="interactions", action="store_false",
                      help="skip the top-1 recovery of the crystal ligand's protein contacts (ProLIF; the receptor "
                           "is protonated once per complex, a few seconds, then about 0.05 s per pose)")
    dock.set_defaults(run=run_dock_bench_cli)


def _register_speed(kinds: argparse._SubParsersAction) -> None:
    speed = kinds.add_parser(
        "speed", help="wall time per complex of DisCo (default and --fast) vs Vina, and DisCo's peak memory",
        description="Docks the same complexes with DisCo (the default, then --fast), then with Vina, in this "
                    "process; writes RUN/speed.json. With --size-sweep: the fixed costs of one `disco dock` run "
                    "of one ligand (imports, model load, receptor parsing, grid maps, docking, contacts, report, "
                    "in seconds) on the smallest, the median and the largest receptor of --dataset (or --split) "
                    "by heavy-atom count, each in a fresh process; writes RUN/size_sweep.csv and "
                    "RUN/size_sweep.json.")
    _add_common(speed)
    speed.add_argument("--split", metavar="FILE", help="ids to use, one per line (required without --size-sweep)")
    speed.add_argument("--limit", type=int, default=5, metavar="N",
                       help="first N complexes (default 5; not with --size-sweep, which picks by size)")
    speed.add_argument("--size-sweep", action="store_true",
                       help="time each fixed cost of `disco dock` on a small, a medium and the largest receptor "
                            "(the DisCo default only; no Vina)")
    speed.set_defaults(run=run_speed_bench_cli)


def _options(args: argparse.Namespace, methods: tuple[str, ...]):
    from benchmarks.dock_bench import DockBenchOptions

    return DockBenchOptions(dataset=args.dataset, out=args.out, split=args.split, methods=methods,
                            models=tuple(args.model or [None]), pocket=args.pocket, samples=args.samples,
                            exhaustiveness=args.exhaustiveness, steps=args.steps, seed=args.seed,
                            limit=args.limit, device=args.device, vina_cpu=args.vina_cpu,
                            energy=args.energy, vina_timeout=getattr(args, "vina_timeout", None),
                            physics_guidance=getattr(args, "physics_guidance", None),   # `bench speed` has neither
                            refine_rounds=getattr(args, "refine_rounds", None),
                            refine_chains=getattr(args, "refine_chains", None),
                            random_starts=getattr(args, "random_starts", None),
                            interactions=getattr(args, "interactions", True))


def run_dock_bench_cli(args: argparse.Namespace) -> int:
    import torch

    from benchmarks.dock_bench import run_dock_bench
    from benchmarks.dock_report import markdown_table

    torch.set_num_threads(args.threads)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    summary = run_dock_bench(_options(args, methods), progress=not args.no_progress)
    print(markdown_table(summary))
    print(f"wrote {args.out}/summary.json, results.csv, failures.csv, report.md and plots/")
    return 0


def run_speed_bench_cli(args: argparse.Namespace) -> int:
    import json

    import torch

    from benchmarks.dock_bench import run_speed_bench
    from disco_core.errors import DiscoError

    if args.size_sweep:
        return run_size_sweep_cli(args)
    if args.split is None:
        raise DiscoError("disco bench speed: --split is required (except with --size-sweep)")
    torch.set_num_threads(args.threads)
    report = run_speed_bench(_options(args, ("disco", "vina")), progress=not args.no_progress)
    shown = {k: v for k, v in report.items() if k not in ("per_complex_seconds", "complexes")}
    print(json.dumps(shown, indent=2))
    print(f"wrote {args.out}/speed.json")
    return 0


def run_size_sweep_cli(args: argparse.Namespace) -> int:
    import dataclasses

    from benchmarks.dock_bench import DiscoMethod
    from benchmarks.size_sweep import SweepSettings, markdown_table, run_size_sweep

    options = _options(args, ("disco",))
    preset = DiscoMethod("disco", options.models[0], options).preset    # `disco dock`'s default with the overrides
    settings = SweepSettings(preset=dataclasses.asdict(preset), samples=args.samples, seed=args.seed,
                             device=args.device, model=options.models[0], blind=args.pocket == "blind",
                             threads=args.threads)
    summary = run_size_sweep(args.dataset, args.out, settings, args.split, progress=not args.no_progress)
    print(markdown_table(summary["rows"]), end="")
    print(f"wrote {args.out}/size_sweep.csv and {args.out}/size_sweep.json")
    return 0


SWEEP_OPTIONS = ("widths", "evaluations", "train_steps", "prior_steps", "samples")


def run_toy_bench(args: argparse.Namespace) -> int:
    import torch

    from benchmarks.toy import run_toy_seeds
    from disco_core.errors import DiscoError

    torch.set_num_threads(args.threads)
    if args.sweep:
        return run_toy_sweep_cli(args)
    given = [f"--{name.replace('_', '-')}" for name in SWEEP_OPTIONS if getattr(args, name) is not None]
    if given:
        raise DiscoError(f"{', '.join(given)}: only with --sweep")
    table = run_toy_seeds(args.out, args.seeds)
    print(table.to_string(index=False))
    print(f"wrote {args.out}/summary.csv and {args.out}/summary.md")
    return 0


def run_toy_sweep_cli(args: argparse.Namespace) -> int:
    from benchmarks.toy_sweep import ToySweepConfig, run_toy_sweep, summary_markdown

    given = {name: tuple(value) if isinstance(value, list) else value
             for name in SWEEP_OPTIONS + ("seeds",) if (value := getattr(args, name)) is not None}
    summary = run_toy_sweep(args.out, ToySweepConfig(**given), progress=not args.no_progress)
    print(summary_markdown(summary))
    print(f"wrote {args.out}/results.csv, summary.csv, summary.md, summary.json, w2.png and curvature.png")
    return 0


def _register_screen(kinds: argparse._SubParsersAction) -> None:
    screen = kinds.add_parser(
        "screen", help="virtual-screening scale: seconds per ligand and peak memory vs library size",
        description="Builds SDF libraries of the given sizes from real ligands (the dataset index's SMILES), docks "
                    "each with `disco dock` in a fresh process against one protein, and writes OUT/screen.json "
                    "(seconds per ligand, peak RSS).")
    screen.add_argument("--protein", required=True, metavar="FILE")
    screen.add_argument("--autobox-ligand", required=True, metavar="FILE")
    screen.add_argument("--index", required=True, metavar="CSV", help="index.csv with a ligand_smiles column")
    screen.add_argument("--sizes", type=int, nargs="+", default=[20, 200], help="library sizes (default 20 200)")
    screen.add_argument("--samples", type=int, default=10)
    screen.add_argument("--batch-size", type=int, default=4)
    screen.add_argument("--device", default="cpu")
    screen.add_argument("--model", metavar="DIR")
    screen.add_argument("--mode", choices=["fast", "default"], default="fast",
                        help="disco dock --fast (the screening setting; default) or its default search")
    screen.add_argument("--steps", type=int, nargs="+", metavar="N",
                        help="reverse-diffusion step counts to run one after the other on each library (default: "
                             "the mode's own), so that their speeds compare within one run")
    screen.add_argument("--threads", type=int, metavar="N",
                        help="torch/OpenMP threads of each disco dock process (default: inherited)")
    screen.add_argument("--out", required=True, metavar="DIR")
    screen.set_defaults(run=run_screen_cli)


def run_screen_cli(args: argparse.Namespace) -> int:
    import json

    from benchmarks.screen import run_screen

    runs = run_screen(args.protein, args.autobox_ligand, args.index, args.sizes, args.out, args.samples,
                      args.batch_size, args.device, args.model, args.mode, args.steps, args.threads)
    print(json.dumps(runs, indent=2))
    return 0


def _register_pockets(kinds: argparse._SubParsersAction) -> None:
    pockets = kinds.add_parser(
        "pockets", help="blind docking's site search: how often a site lands on the ligand (DCC < 4 A)",
        description="Runs each pocket finder on every complex and writes OUT/results.csv (a row per complex and "
                    "finder: distance from each site to the ligand centroid, the rank of the first site within "
                    "4 A; rewritten after every complex) and OUT/summary.json (recall@1/3/5/10, top-1 and top-N per "
                    "finder). Rerun into the same --out with the same --dataset, --split and --sites, it resumes: "
                    "the complexes and finders results.csv holds are kept, not run again.")
    pockets.add_argument("--dataset", required=True, metavar="DIR", help="PDBBind-style folder")
    pockets.add_argument("--split", metavar="FILE", help="ids to use, one per line (default: every folder)")
    pockets.add_argument("--sites", type=int, default=4,
                         help="top-N: sites searched, as `disco dock --blind-sites` (default 4; recall@1/3/5/10 "
                              "are reported whatever N)")
    pockets.add_argument("--finders", default="disco", metavar="LIST",
                         help="comma-separated: disco (ours, default), pykvfinder, fpocket-rs, pocketeer (optional: "
                              "pip install '.[pockets]')")
    pockets.add_argument("--limit", type=int, help="only the first N complexes")
    pockets.add_argument("--out", required=True, metavar="DIR",
                         help="results folder; an earlier run of the same settings there is resumed")
    pockets.set_defaults(run=run_pockets_cli)


def run_pockets_cli(args: argparse.Namespace) -> int:
    import json

    from benchmarks.pocket_bench import run_pocket_bench
    from benchmarks.pocket_finders import parse_finders

    finders = parse_finders(args.finders)
    summary = run_pocket_bench(args.dataset, args.split, args.out, args.sites, args.limit, finders)
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}/results.csv and {args.out}/summary.json")
    return 0


def _register_failures(kinds: argparse._SubParsersAction) -> None:
    failures = kinds.add_parser(
        "failures", help="search or scoring: why each wrong top-1 pose of a `bench dock` run was wrong",
        description="For every complex of one method of a `disco bench dock` run whose top-1 pose is >= 2 A off, "
                    "compares the interaction energy of the minimised crystal pose with that of the minimised "
                    "top-1 pose: lower crystal energy = a search failure, else a scoring failure. Writes "
                    "RUN/search_or_scoring-<method>.csv and .json.")
    failures.add_argument("--run", dest="run_dir", required=True, metavar="RUN", help="a `disco bench dock` run folder")
    failures.add_argument("--method", required=True, help="one of its methods, e.g. disco")
    failures.add_argument("--dataset", required=True, metavar="DIR", help="the run's PDBBind-style folder")
    failures.set_defaults(run=run_failures_cli)


def run_failures_cli(args: argparse.Namespace) -> int:
    import json

    from benchmarks.failure_analysis import run_failure_analysis

    summary = run_failure_analysis(args.run_dir, args.method, args.dataset)
    print(json.dumps(summary, indent=2))
    return 0


def _register_pool(kinds: argparse._SubParsersAction) -> None:
    pool = kinds.add_parser(
        "pool", help="count several `bench dock` runs (seeds, splits) together",
        description="Reads each run's results.csv and writes OUT/pooled.json, OUT/pooled.md and OUT/results.csv: "
                    "per method the (complex, run) pairs, top-1 and best-of-all < 2 A counts, PoseBusters-valid "
                    "top-1 count, median seconds and the time ratio to Vina on the pairs both finished.")
    pool.add_argument("--runs", nargs="+", required=True, metavar="RUN", help="`disco bench dock` run folders")
    pool.add_argument("--out", required=True, metavar="DIR")
    pool.add_argument("--paired", nargs=2, metavar=("FIRST", "SECOND"),
                      help="also compare two methods per (run, complex) both have a row for (a failure is a miss): "
                           "which top-1 RMSD is lower, ties, only one < 2 A; writes OUT/paired.json and paired.csv")
    pool.add_argument("--tie", type=float, default=0.1, metavar="A",
                      help="with --paired: top-1 RMSDs closer than this are a tie (default 0.1)")
    pool.set_defaults(run=run_pool_cli)


def run_pool_cli(args: argparse.Namespace) -> int:
    from benchmarks.pool import markdown, paired_markdown, pool_runs

    pooled = pool_runs(args.runs, args.out, paired_with=tuple(args.paired) if args.paired else None, tie=args.tie)
    print(markdown(pooled, [str(r) for r in args.runs]), end="")
    if args.paired:
        import json
        from pathlib import Path

        print("\n" + paired_markdown(json.loads((Path(args.out) / "paired.json").read_text())), end="")
    return 0


def _register_gpu(kinds: argparse._SubParsersAction) -> None:
    gpu = kinds.add_parser(
        "gpu", help="the CUDA tests, then disco dock timed on CPU and GPU in one run",
        description="Runs the CUDA tests (tests/gpu), times `disco dock` (default and --fast) on the shipped "
                    "complexes on the CPU and on the GPU, then a 100-ligand --fast screen on the GPU; writes "
                    "OUT/gpu_check.json (device, versions, seconds, ligands per hour, peak GPU memory) to commit "
                    "under benchmarks/results/. Without a GPU: one line, exit 0, nothing written.")
    gpu.add_argument("--out", required=True, metavar="DIR")
    gpu.add_argument("--complexes", type=int, default=5, metavar="N",
                     help="how many shipped complexes to time (default 5)")
    gpu.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    gpu.add_argument("--no-screen", action="store_true", help="skip the 100-ligand screen")
    gpu.set_defaults(run=run_gpu_check_cli)


def run_gpu_check_cli(args: argparse.Namespace) -> int:
    import json

    from benchmarks.gpu_check import GpuCheckSkipped, run_gpu_check

    try:
        record = run_gpu_check(args.out, args.complexes, not args.no_tests, not args.no_screen)
    except GpuCheckSkipped as exc:
        print(f"disco bench gpu: {exc}")
        return 0
    print(json.dumps({key: record[key] for key in ("facts", "gpu_speedup") if key in record}, indent=2))
    print(f"wrote {args.out}/gpu_check.json")
    return 1 if record.get("cuda_tests", {}).get("exit_code", 0) not in (0,) else 0
