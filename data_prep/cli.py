"""`disco prep`: build the processed cache; `disco prep esm`: compute per-residue ESM2 embeddings.

Exit codes: 0 when the batch finished (failures are listed), 1 when every item failed or a user error
stopped the run, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inputs (give one)")
    group.add_argument("--pdbbind", metavar="DIR", help="PDBbind-style folder: <id>/<id>_protein.pdb + _ligand.sdf")
    group.add_argument("--split", metavar="FILE", help="only the ids in this file (one per line), with --pdbbind")
    group.add_argument("--csv", metavar="FILE",
                       help="CSV with complex_name, protein_path, ligand_description[, protein_sequence]")
    group.add_argument("--protein", metavar="FILE", help="one protein (PDB or mmCIF), with --ligand")
    group.add_argument("--ligand", metavar="SDF|MOL2|SMILES", help="one ligand, with --protein")
    group.add_argument("--name", help="complex name for --protein/--ligand")
    parser.add_argument("--max-residues", type=int, default=None,
                        help="refuse proteins with more residues than this (default 10000)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prep", help="turn protein + ligand files into the processed complex cache",
        description="Featurise complexes (C-alpha residue graph, ligand graph, rotatable bonds, RDKit conformer, "
                    "conformer matching) into CACHE/items/*.pt, with CACHE/index.csv, failures.csv, summary.json. "
                    "Reruns skip finished items. `disco prep esm --help` computes ESM2 embeddings.")
    _add_input_options(parser)
    parser.add_argument("--out", metavar="CACHE", help="cache folder to create or resume")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--esm-embeddings", metavar="FILE", help="per-residue ESM2 embeddings from `disco prep esm`")
    parser.add_argument("--seed", type=int, default=0, help="conformer generation / matching seed")
    parser.add_argument("--conformer-timeout", type=float, default=60.0, metavar="S",
                        help="time budget for embedding one ligand (default 60 s)")
    parser.add_argument("--item-timeout", type=float, default=300.0, metavar="S",
                        help="a complex taking longer than this fails (default 300 s)")
    parser.add_argument("--force", action="store_true", help="reprocess items that are already cached")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_prep, _parser=parser)

    modes = parser.add_subparsers(title="modes", metavar="MODE", dest="prep_mode")
    esm_parser = modes.add_parser("esm", help="compute per-residue ESM2 embeddings (needs fair-esm + local weights)",
                                  description="Embed every protein chain of the inputs with a local ESM2 model and "
                                              "write one embeddings file for `disco prep --esm-embeddings`.")
    _add_input_options(esm_parser)
    esm_parser.add_argument("--weights", required=True, metavar="FILE", help="local ESM2 weights (nothing is downloaded)")
    esm_parser.add_argument("--out", required=True, metavar="FILE", help="embeddings file to write (.pt)")
    esm_parser.add_argument("--no-progress", action="store_true")
    esm_parser.set_defaults(run=run_esm, _parser=esm_parser)


def _jobs(args: argparse.Namespace):
    from .inputs import csv_jobs, pdbbind_jobs, single_job

    given = [flag for flag, value in (("--pdbbind", args.pdbbind), ("--csv", args.csv), ("--protein", args.protein))
             if value]
    if len(given) != 1:
        args._parser.error("give exactly one of --pdbbind DIR, --csv FILE, or --protein FILE --ligand LIGAND")
    if args.split and not args.pdbbind:
        args._parser.error("--split goes with --pdbbind")
    if args.protein and not args.ligand:
        args._parser.error("--protein needs --ligand")
    if args.ligand and not args.protein:
        args._parser.error("--ligand needs --protein")
    if args.pdbbind:
        return pdbbind_jobs(args.pdbbind, args.split)
    if args.csv:
        return csv_jobs(args.csv)
    return [single_job(args.protein, args.ligand, args.name)]


def run_prep(args: argparse.Namespace) -> int:
    from disco_core.errors import DiscoError

    from .cache import CacheOptions, build_cache
    from .protein import DEFAULT_MAX_RESIDUES

    if not args.out:
        args._parser.error("--out CACHE is required")
    if args.workers < 1:
        args._parser.error("--workers must be at least 1")
    jobs = _jobs(args)
    if not jobs:
        raise DiscoError("no complexes found in the input")
    options = CacheOptions(seed=args.seed, max_residues=args.max_residues or DEFAULT_MAX_RESIDUES,
                           conformer_timeout_s=args.conformer_timeout, item_timeout_s=args.item_timeout,
                           esm_embeddings=args.esm_embeddings)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="prep", unit="complex", file=sys.stderr, dynamic_ncols=True)
    counts = {"ok": 0, "failed": 0, "cached": 0}
    failed_names: list[str] = []

    def progress(name: str, status: str) -> None:
        counts[status] += 1
        if status == "failed":
            failed_names.append(name)
        if bar is not None:
            bar.set_postfix(counts, refresh=False)
            bar.update(1)

    summary = build_cache(jobs, args.out, options, workers=args.workers, force=args.force, progress=progress)
    if bar is not None:
        bar.close()
    _print_failures(Path(args.out) / "failures.csv")
    median = summary["median_matched_rmsd"]
    rmsd = (f", median matched RMSD {median:.2f} A (unmatched {summary['median_unmatched_rmsd']:.2f} A)"
            if median is not None else "")
    print(f"prep: {summary['n_ok']} ok ({summary['n_already_cached']} already cached), {summary['n_failed']} failed"
          f"{rmsd}, {summary['seconds']:.0f} s -> {args.out}/ (index.csv, failures.csv, summary.json)")
    return 1 if summary["n_ok"] == 0 else 0


def _print_failures(path: Path) -> None:
    import csv

    if not path.is_file():
        return
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            print(f"disco prep: {row['name']} failed at {row['stage']}: {row['reason']}", file=sys.stderr)


def run_esm(args: argparse.Namespace) -> int:
    from disco_core.errors import DiscoError, InputError

    from .esm import compute_esm_embeddings, load_esm2, write_esm_embeddings
    from .protein import DEFAULT_MAX_RESIDUES, read_receptor

    jobs = _jobs(args)
    model, alphabet = load_esm2(args.weights)
    entries, skipped, seen = [], [], {}
    start = time.monotonic()
    for job in jobs:
        if job.input_error or not job.protein_path:
            skipped.append(f"{job.name}: {job.input_error or 'no protein'}")
            continue
        try:
            if job.protein_path not in seen:
                seen[job.protein_path] = read_receptor(job.protein_path,
                                                       args.max_residues or DEFAULT_MAX_RESIDUES).chain_sequences()
        except InputError as exc:
            skipped.append(str(exc))
            continue
        entries.append((job.name, seen[job.protein_path]))
    if not entries:
        raise DiscoError("no protein could be read: " + "; ".join(skipped[:3]))
    contents = compute_esm_embeddings(entries, model, alphabet)
    write_esm_embeddings(contents, args.out)
    for line in skipped:
        print(f"disco prep esm: skipped {line}", file=sys.stderr)
    print(f"prep esm: {len(contents['embeddings'])} chains of {len(entries)} complexes embedded "
          f"({len(skipped)} skipped), {time.monotonic() - start:.0f} s -> {args.out}")
    return 0
