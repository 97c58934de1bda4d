"""`disco bench`: reproducible measurements."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="reproducible measurements (toy over seeds, ...)")
    kinds = parser.add_subparsers(title="benchmarks", metavar="BENCHMARK")
    kinds.required = True
    toy = kinds.add_parser("toy", help="the 2-D toy (EDM vs DisCo-EDM) over several seeds",
                           description="Runs `disco toy` for each seed (resumable) and writes OUT/summary.csv/.md.")
    toy.add_argument("--out", required=True)
    toy.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    toy.add_argument("--threads", type=int, default=1)
    toy.set_defaults(run=run_toy_bench)


def run_toy_bench(args: argparse.Namespace) -> int:
    import torch

    from .toy import run_toy_seeds

    torch.set_num_threads(args.threads)
    table = run_toy_seeds(args.out, args.seeds)
    print(table.to_string(index=False))
    print(f"wrote {args.out}/summary.csv and {args.out}/summary.md")
    return 0
