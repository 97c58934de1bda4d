"""`disco toy`: the paper's 2-D experiment, EDM vs DisCo-EDM on 8 Gaussians."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("toy", help="2-D toy: EDM vs DisCo-EDM on a mixture of 8 Gaussians",
                                   description="Train the baseline EDM and DisCo-EDM on 8 Gaussians, sample with "
                                               "Heun, write DIR/metrics.json (W2, curvature, Jacobian) and "
                                               "DIR/trajectories.png.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument("--samples", type=int, default=8000, help="samples for W2 (exact OT)")
    parser.add_argument("--device", default="cpu", help="auto|cpu|cuda (the toy is fastest on CPU)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (small MLPs: 1 is fastest)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from .experiment import ToyExperimentConfig, run_toy

    import torch

    torch.set_num_threads(args.threads)
    cfg = ToyExperimentConfig(seed=args.seed, num_samples=args.samples)
    cfg.train = dataclasses.replace(cfg.train, device=args.device,
                                    max_steps=args.steps if args.steps else cfg.train.max_steps)
    metrics = run_toy(args.out, cfg, progress=not args.no_progress)
    print(f"W2 baseline {metrics['w2_baseline']:.3f}  DisCo {metrics['w2_disco']:.3f}  |  "
          f"curvature baseline {metrics['curvature_baseline']:.4f}  DisCo {metrics['curvature_disco']:.4f}  |  "
          f"{metrics['seconds']:.0f} s")
    print(f"wrote {args.out}/metrics.json and {args.out}/trajectories.png")
    return 0
