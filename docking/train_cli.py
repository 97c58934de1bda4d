"""`disco train docking`: train the docking models (score + pointer encoder, prior, confidence) from a
processed cache. `train` is a parent command so that other packages can add their own models to it."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

STAGE_CHOICES = ("score", "prior", "confidence", "all")


def register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train models", description="Train a model family.")
    models = parser.add_subparsers(title="models", metavar="MODEL")
    models.required = True
    docking = models.add_parser(
        "docking", help="DiffDock-style docking with DisCo pointer latents",
        description="Train the docking models in stages: score (score model + pointer encoder), prior "
                    "(pointer prior), confidence. Each stage writes RUN/<stage>/ (checkpoint.pt, metrics.csv, "
                    "config.yaml) and resumes from its checkpoint when rerun.")
    docking.add_argument("--config", required=True, metavar="YAML", help="preset, e.g. configs/docking/disco_s.yaml")
    docking.add_argument("--data", required=True, metavar="CACHE", help="processed cache from `disco prep`")
    docking.add_argument("--out", required=True, metavar="RUN", help="run folder (created or resumed)")
    docking.add_argument("--stage", choices=STAGE_CHOICES, default="all", help="stage to train (default: all)")
    docking.add_argument("--split-dir", metavar="DIR",
                         help="folder with train.txt and val.txt (default: train on the whole cache, no validation)")
    docking.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (default: the config's)")
    docking.add_argument("--max-steps", type=int, default=None, metavar="N", help="override the steps of each stage")
    docking.add_argument("--init-from", metavar="DIR",
                         help="fine-tune: start each stage from DIR/<stage>/checkpoint.pt of a model folder or run "
                              "(e.g. docking/pretrained/default) instead of random weights")
    docking.set_defaults(run=run_train_docking)

    export = models.add_parser(
        "docking-export", help="turn a docking training run into a model folder for `disco dock --model`",
        description="Copy each stage's config and EMA weights from RUN into DIR (no optimizer state), and with "
                    "--calibrate-data fit the confidence calibration (Platt scaling) on held-out complexes docked "
                    "into their crystal pocket, writing DIR/calibration.json.")
    export.add_argument("--run", dest="run_dir", required=True, metavar="RUN", help="training run folder")
    export.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    export.add_argument("--calibrate-data", metavar="CACHE", help="processed cache holding the held-out complexes")
    export.add_argument("--calibrate-split", metavar="FILE", help="ids to calibrate on (e.g. splits/val.txt)")
    export.add_argument("--check-split", metavar="FILE",
                        help="also report the calibrated confidence's error (ECE) on these complexes (e.g. test.txt)")
    export.add_argument("--samples", type=int, default=10, help="poses per complex for the calibration")
    export.add_argument("--steps", type=int, default=20, help="reverse-diffusion steps for the calibration")
    export.set_defaults(run=run_export_docking)

    pose = models.add_parser(
        "pose-confidence", help="fit the confidence of physics-guided poses on `disco bench dock` runs",
        description="Fit docking.confidence.pose_confidence (logistic regression on each guided pose's energy, agreement "
                    "with the other samples and the score model's remaining displacement) on the poses of "
                    "train-split bench runs, Platt-calibrate it on validation runs, report it on check runs, "
                    "and write it as MODEL/pose_confidence.json. The runs must be `disco bench dock --methods "
                    "disco --pocket reference` runs made with MODEL (the default of `disco dock`: physics-guided poses).")
    pose.add_argument("--runs", nargs="+", required=True, metavar="RUN", help="bench runs of train complexes")
    pose.add_argument("--calibrate-runs", nargs="+", required=True, metavar="RUN", help="bench runs of val complexes")
    pose.add_argument("--check-runs", nargs="*", default=[], metavar="RUN", help="bench runs to report on (test)")
    pose.add_argument("--dataset", required=True, metavar="DIR", help="the runs' PDBBind-style folder")
    pose.add_argument("--model", default=None, metavar="DIR", help="model folder the runs used (default: bundled)")
    pose.add_argument("--method", default="disco", help="the runs' method label to read (default: disco; "
                                                         "disco:<folder> for a run with --model)")
    pose.add_argument("--l2", type=float, default=1.0, help="weight decay of the logistic regression (default: 1)")
    pose.add_argument("--out", default=None, metavar="FILE",
                      help="where to write it (default: MODEL/pose_confidence.json)")
    pose.set_defaults(run=run_fit_pose_confidence)

    decoys = models.add_parser(
        "scorer-data", help="decoy poses of training complexes across the RMSD range, for a pose scorer",
        description="For every complex of each --dataset named in its --split: the crystal pose, perturbations "
                    "of it and random starts in the site, each minimised in the interaction energy and labelled "
                    "with its symmetry-corrected RMSD to the crystal pose (docking.scoring.decoys). Built in "
                    "interleaved parts (--part I/N), each OUT/decoys_IofN.npz written whole; a part that exists is "
                    "kept, so rerunning resumes. Val and test complexes of the dataset's own splits are refused.")
    decoys.add_argument("--dataset", action="append", required=True, metavar="DIR",
                        help="PDBBind-layout folder (<id>/<id>_protein.pdb, <id>_ligand.sdf); repeat with --split")
    decoys.add_argument("--split", action="append", required=True, metavar="FILE",
                        help="ids of the matching --dataset to use (training complexes only)")
    decoys.add_argument("--out", required=True, metavar="DIR")
    decoys.add_argument("--part", default="1/1", metavar="I/N", help="build part I of N (default 1/1: all)")
    decoys.add_argument("--perturbed", type=int, default=32, help="perturbed crystal poses per complex (default 32)")
    decoys.add_argument("--random-starts", type=int, default=32, help="random starts per complex (default 32)")
    decoys.add_argument("--seed", type=int, default=0)
    decoys.add_argument("--from-run", action="append", default=[], metavar="RUN",
                        help="instead: the poses `disco bench dock` runs wrote for these complexes (source 3, the "
                             "default's own minima), as OUT/default_poses.npz; repeat for several runs")
    decoys.add_argument("--no-progress", action="store_true", help="no progress bar")
    decoys.set_defaults(run=run_scorer_data, _parser=decoys)

    scorer = models.add_parser(
        "pose-scorer", help="train the learned pose scorer on decoys (and calibrate it on validation runs)",
        description="Trains the pose scorer (docking.scoring.pose_scorer: an MLP on typed ligand-receptor distance "
                    "counts and energy terms) to put each training complex's near-native decoys first "
                    "(docking.scoring.scorer_training), then, with --calibrate, fits its Platt calibration to "
                    "P(RMSD < 2 A) on the poses of `disco bench dock` runs on validation complexes. Put the file in a "
                    "model folder as pose_scorer.pt for `disco dock --rank-by scorer`.")
    scorer.add_argument("--decoys", action="append", default=[], metavar="DIR_OR_FILE",
                        help="decoy parts (.npz) or folders of them (disco train scorer-data)")
    scorer.add_argument("--dataset", action="append", default=[], metavar="DIR",
                        help="PDBBind-layout folder of the decoys' complexes; repeat with --split")
    scorer.add_argument("--split", action="append", default=[], metavar="FILE", help="ids of the matching --dataset")
    scorer.add_argument("--from", dest="start", default=None, metavar="FILE",
                        help="a trained scorer to calibrate instead of training one")
    scorer.add_argument("--calibrate", action="append", default=[], metavar="RUN",
                        help="`disco bench dock` run folders on validation complexes to calibrate on")
    scorer.add_argument("--calibrate-dataset", default=None, metavar="DIR", help="the calibration runs' dataset")
    scorer.add_argument("--calibrate-split", default=None, metavar="FILE", help="its ids (default: every complex)")
    scorer.add_argument("--sources", default=None, metavar="I,J",
                        help="train on these decoy sources only (docking.scoring.decoys.SOURCES: 0 crystal, "
                             "1 perturbed, 2 random starts, 3 the default's poses; default: all)")
    scorer.add_argument("--hidden", default="128,64", metavar="N,M", help="hidden layer sizes (default 128,64)")
    scorer.add_argument("--weight-decay", type=float, default=1e-4)
    scorer.add_argument("--held-out-share", type=float, default=0.1,
                        help="share of the training complexes held out (by name) to choose the epoch (default 0.1)")
    scorer.add_argument("--epochs", type=int, default=40)
    scorer.add_argument("--seed", type=int, default=0)
    scorer.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    scorer.add_argument("--out", required=True, metavar="FILE", help="the scorer file to write (pose_scorer.pt)")
    scorer.set_defaults(run=run_train_pose_scorer, _parser=scorer)


def run_scorer_data(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from disco_core.errors import InputError
    from docking.request.shard import parse_shard
    from docking.scoring.decoys import DecoySettings, build_part, dataset_complexes, docked_decoys, write_part

    if len(args.dataset) != len(args.split):
        args._parser.error("give one --split per --dataset")
    try:
        part = parse_shard(args.part)
        complexes = [c for folder, split in zip(args.dataset, args.split) for c in dataset_complexes(folder, split)]
        settings = DecoySettings(perturbed=args.perturbed, random_starts=args.random_starts, seed=args.seed)
    except InputError as exc:
        args._parser.error(str(exc).replace("--shard", "--part"))
    if args.from_run:
        if (Path(args.out) / "default_poses.npz").exists():      # a part is never overwritten (it may hold more)
            args._parser.error(f"{Path(args.out) / 'default_poses.npz'} exists: write the new part to another --out")
        found, failures = [], {}
        for run in args.from_run:
            decoys, missing = docked_decoys(run, complexes)
            found += decoys
            failures.update({name: reason for name, reason in missing.items() if name not in failures})
        done = {d.name for d in found}
        path = write_part(Path(args.out) / "default_poses.npz", found,
                          {name: reason for name, reason in failures.items() if name not in done})
        print(f"wrote {path}: {len(found)} complex run(s), {len(complexes) - len(done)} complex(es) without poses")
        return 0
    total = len(complexes[part.number - 1::part.count])
    with tqdm(total=total, desc=f"decoys {part}", disable=args.no_progress, dynamic_ncols=True) as bar:
        path = build_part(complexes, args.out, part.number, part.count, settings, lambda name: bar.update(1))
    print(f"wrote {path}")
    return 0


def run_train_docking(args: argparse.Namespace) -> int:
    from disco_core.config import load_config

    from docking.training.stages import DockingTrainConfig, train_docking_from_cache

    config = load_config(DockingTrainConfig, args.config)
    if args.device is not None:
        config.trainer = dataclasses.replace(config.trainer, device=args.device)
    if args.max_steps is not None:
        config.trainer = dataclasses.replace(config.trainer, max_steps=args.max_steps)
        config.prior = dataclasses.replace(config.prior, max_steps=args.max_steps)
        config.confidence = dataclasses.replace(config.confidence, max_steps=args.max_steps)
    if args.init_from is not None:
        config.init_from = args.init_from
    stages, skipped = train_docking_from_cache(config, args.data, args.out, args.split_dir, args.stage, args.config)
    for reason in skipped:
        print(f"disco: skipped {reason}", file=sys.stderr)
    print(f"trained {', '.join(stages)} -> {args.out}")
    return 0


def run_export_docking(args: argparse.Namespace) -> int:
    import json

    from disco_core.errors import InputError

    from docking.training.export import export_docking_model

    if args.calibrate_data and not args.calibrate_split:
        raise InputError("--calibrate-split", "needed with --calibrate-data (the held-out ids)")
    exported = export_docking_model(args.run_dir, args.out, args.calibrate_data, args.calibrate_split,
                                    args.check_split, args.samples, args.steps)
    print(f"exported {len(exported.stages)} stage(s) -> {args.out}")
    if exported.calibration_report is not None:
        print(json.dumps(exported.calibration_report, indent=2))
    return 0


def run_fit_pose_confidence(args: argparse.Namespace) -> int:
    import json

    from docking.inference.model_folder import model_folder
    from docking.inference.pipeline import DockingPipeline, DockOptions
    from docking.confidence.pose_confidence import FILE_NAME
    from docking.confidence.pose_confidence_fit import fit_pose_confidence

    pipeline = DockingPipeline(DockOptions(model=args.model, device="cpu"))
    out = Path(args.out) if args.out else model_folder(args.model) / FILE_NAME
    model = fit_pose_confidence(pipeline, args.runs, args.calibrate_runs, args.check_runs, args.dataset,
                                args.method, args.l2, out=out)
    print(json.dumps(model.report, indent=2))
    print(f"wrote {out}")
    return 0


def run_train_pose_scorer(args: argparse.Namespace) -> int:
    import json

    import numpy as np
    import torch

    from data_prep.inputs import pdbbind_jobs
    from disco_core.errors import InputError
    from docking.scoring.decoys import dataset_complexes, docked_decoys
    from docking.scoring.pose_scorer import PoseScorer
    from docking.scoring.scorer_training import (
        ScorerSettings,
        complex_groups,
        fit_calibration,
        only_sources,
        read_parts,
        train_scorer,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.start is None and not args.decoys:
        args._parser.error("give --decoys (and their --dataset/--split) to train, or --from FILE to calibrate")
    if len(args.dataset) != len(args.split):
        args._parser.error("give one --split per --dataset")
    if args.calibrate and args.calibrate_dataset is None:
        args._parser.error("--calibrate needs --calibrate-dataset")
    if args.start is not None:
        scorer = PoseScorer.load(args.start)
    else:
        parts = sorted(p for given in map(Path, args.decoys)
                       for p in (given.glob("*.npz") if given.is_dir() else [given]))
        try:
            complexes = {c.name: c for folder, split in zip(args.dataset, args.split)
                         for c in dataset_complexes(folder, split)}
        except InputError as exc:
            args._parser.error(str(exc))
        groups, failures = complex_groups(read_parts(parts), complexes)
        if args.sources:
            groups = only_sources(groups, tuple(int(v) for v in args.sources.split(",")))
        if not groups:
            args._parser.error("no usable decoys")
        settings = ScorerSettings(hidden=tuple(int(v) for v in args.hidden.split(",") if v.strip()),
                                  epochs=args.epochs, weight_decay=args.weight_decay,
                                  held_out_share=args.held_out_share, seed=args.seed)
        scorer, history = train_scorer(groups, settings)
        scorer.record.update({"decoy_parts": [p.name for p in parts], "skipped": failures, "history": history,
                              "sources": args.sources or "all"})
        print(f"trained on {len(groups)} complexes ({scorer.record['poses']} poses), best epoch "
              f"{scorer.record['best_epoch']}; {len(failures)} skipped")
    if args.calibrate:
        jobs = pdbbind_jobs(args.calibrate_dataset, args.calibrate_split)
        logits, labels = [], []
        for run in args.calibrate:
            decoys, _ = docked_decoys(run, jobs)
            groups, _ = complex_groups(decoys, {c.name: c for c in jobs})
            with torch.no_grad():
                logits += [scorer(g.features).numpy() for g in groups]
            labels += [(g.rmsd < 2.0).numpy() for g in groups]
        scorer.calibration = fit_calibration(np.concatenate(logits), np.concatenate(labels))
        scorer.record["calibration_runs"] = [str(r) for r in args.calibrate]
        print(f"calibrated on {sum(map(len, labels))} poses of {len(labels)} runs: "
              f"a = {scorer.calibration[0]:.4f}, b = {scorer.calibration[1]:.4f}")
    path = scorer.save(args.out)
    print(f"wrote {path}")
    print(json.dumps({k: v for k, v in scorer.record.items() if k not in ("history", "skipped", "held_out")}))
    return 0
