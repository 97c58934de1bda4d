"""`disco dock`: dock ligands into proteins with the bundled (or a given) model.

Exit codes: 0 when the batch finished (failed items are in failures.csv), 1 when every item failed or
a user error stopped the run, 2 for a usage error. Under `torchrun --nproc-per-node G disco dock ...`
rank r docks items r, r + G, ... on its own device and the tables are merged at the end.
"""

from __future__ import annotations

import argparse
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


def register_dock(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dock", help="dock ligands into a protein (DisCo-DiffDock)",
        description="Dock ligands (SMILES, SDF with one or many molecules, MOL2, or a .smi list) into a protein "
                    "(PDB/mmCIF), or many pairs from a CSV. Writes OUT/<name>/rank*.sdf and poses.sdf, "
                    "OUT/summary.csv and OUT/failures.csv. Without a pocket option the docking is blind.")
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
    sampling.add_argument("--accurate", action="store_true",
                          help="the setting measured against the accuracy target: --physics-guidance 3 --steps 60 "
                               "--refine-rounds 30 --rank-by energy (each can still be given explicitly); about "
                               "10-20x the time of the default")
    sampling.add_argument("--steps", type=int, default=None, help="reverse-diffusion steps (default 20)")
    sampling.add_argument("--seed", type=int, default=0, help="same seed, same poses (default 0)")
    sampling.add_argument("--batch-size", type=int, default=4, metavar="L",
                          help="ligands sampled together through the score model (default 4; larger on a GPU)")
    sampling.add_argument("--guidance", type=float, default=0.0, metavar="W",
                          help="classifier-free guidance weight on the latents (default 0)")
    sampling.add_argument("--physics-guidance", type=float, default=None, metavar="W",
                          help="steer the sampling with a Vina-form interaction energy: each score gets W times "
                               "minus its gradient (W in mol/kcal; 0 = off, the default), samples are resampled "
                               "by it along the way and the final poses locally minimised in it. Every pose then "
                               "carries its interaction_energy (sampled_interaction_energy once --rescore / --relax have moved "
                               "it); see also --rank-by energy (3 is a good value)")
    sampling.add_argument("--refine-rounds", type=int, default=None, metavar="K",
                          help="with --physics-guidance: K rounds of Monte Carlo basin hopping in the interaction "
                               "energy from each final pose (mutate one degree of freedom, minimise, Metropolis), "
                               "each pose kept only if the search lowered its energy (default 0 = off)")
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
                         help="order of the written poses (vina needs --rescore vina, energy --physics-guidance; "
                              "default confidence)")
    parser.add_argument("--model", metavar="DIR", help="model folder or training run (default: the bundled model)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--write-complex", action="store_true", help="also write complex_rank1.pdb per ligand")
    parser.add_argument("--max-residues", type=int, default=10_000, help="refuse larger proteins (default 10000)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_dock, _parser=parser)


@dataclass
class DockJob:
    index: int
    protein: str
    entry: object            # docking.ligand_stream.LigandEntry


def _jobs(args: argparse.Namespace) -> Iterator[DockJob]:
    from data_prep.inputs import csv_jobs

    from disco_core.errors import InputError

    from docking.inference.ligand_stream import LigandEntry, UniqueNames, stream_ligands

    names = UniqueNames()
    index = 0
    if args.csv:
        pairs = [(job.protein_path, job.ligand, job.name, job.input_error)
                 for job in csv_jobs(args.csv, allow_duplicate_names=True)]
        if not pairs:
            raise InputError(args.csv, "the CSV has a header but no rows to dock")
    else:
        pairs = [(args.protein, args.ligand, args.name, None)]
    for protein, ligand, name, error in pairs:
        if error:
            yield DockJob(index, protein, LigandEntry(names(name or "ligand"), ligand, None, f"{name}: {error}"))
            index += 1
            continue
        for entry in stream_ligands(ligand, names, name):
            yield DockJob(index, protein, entry)
            index += 1


def _total(args: argparse.Namespace) -> int | None:
    from docking.inference.ligand_stream import count_ligands

    if args.csv:
        return None
    return count_ligands(args.ligand)


# `--accurate`: the settings `disco bench dock --methods disco+guided --physics-guidance 3 --guided-steps 60
# --refine-rounds 30` measured (README, "Docking"); unset options fall back to the plain defaults.
ACCURATE = {"physics_guidance": 3.0, "steps": 60, "refine_rounds": 30, "rank_by": "energy"}
PLAIN = {"physics_guidance": 0.0, "steps": 20, "refine_rounds": 0, "rank_by": "confidence"}


def _fill_presets(args: argparse.Namespace) -> None:
    """Options the user did not give take the --accurate preset's value, or else the plain default; the
    preset's energy ranking gives way to Vina's when --rescore vina moves the poses."""
    preset = dict(ACCURATE) if args.accurate else PLAIN
    if args.accurate and args.relax and not args.rescore and args.rank_by is None:
        args._parser.error("--accurate with --relax needs --rescore vina (the relaxed poses are then ranked by "
                           "Vina's score; the sampling energy no longer describes them)")
    if args.accurate and args.rescore:
        preset["rank_by"] = "vina"
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


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
    if args.rank_by == "energy" and not args.physics_guidance > 0:
        parser.error("--rank-by energy needs --physics-guidance W > 0")
    if args.rank_by == "energy" and (args.rescore or args.relax):
        parser.error("--rank-by energy ranks the sampled poses, which --rescore / --relax move; use --rank-by vina")
    if args.physics_guidance < 0:
        parser.error("--physics-guidance must be >= 0")
    if args.refine_rounds < 0:
        parser.error("--refine-rounds must be >= 0")
    if args.refine_rounds > 0 and not args.physics_guidance > 0:
        parser.error("--refine-rounds needs --physics-guidance W > 0 (the search runs in its energy)")
    if args.samples < 1 or args.steps < 1 or args.batch_size < 1:
        parser.error("--samples, --steps and --batch-size must be at least 1")


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


def _device(requested: str, world_size: int, local_rank: int) -> str:
    import torch

    if world_size > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank}"
    return requested


def run_dock(args: argparse.Namespace) -> int:
    _validate(args)
    import torch
    from tqdm import tqdm

    from disco_core.errors import DiscoError

    from docking.inference.outputs import RunTables, merge_rank_tables, write_ligand_outputs
    from docking.physics.guidance import PhysicsGuidance
    from docking.inference.pipeline import DockingPipeline, DockOptions, sampling_rank
    from docking.inference.postprocess import PosePostprocessor, PostprocessOptions, summary_columns, top_pose_values
    from docking.inference.given_sites import parse_residue_list, pocket_from_center, pocket_from_ligand_file, pocket_from_residues

    rank, world_size, local_rank = _distributed()
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiscoError(f"{out_dir}: cannot create the output folder ({exc.strerror})") from None
    if world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")

    pocket = None
    if args.pocket_center is not None:
        pocket = pocket_from_center(args.pocket_center, args.pocket_radius)
    elif args.autobox_ligand:
        pocket = pocket_from_ligand_file(args.autobox_ligand, args.pocket_radius)
    residues = parse_residue_list(args.pocket_residues) if args.pocket_residues else None

    options = DockOptions(model=args.model, samples=args.samples, steps=args.steps, seed=args.seed,
                          device=_device(args.device, world_size, local_rank), guidance_weight=args.guidance,
                          blind_sites=args.blind_sites, max_residues=args.max_residues,
                          physics=(PhysicsGuidance(weight=args.physics_guidance, refine_rounds=args.refine_rounds)
                                   if args.physics_guidance > 0 else None),
                          rank_by=sampling_rank(args.rank_by, args.physics_guidance > 0))
    pipeline = DockingPipeline(options)
    if args.protein:
        pipeline.receptor(args.protein)     # an unreadable protein stops here, once, with its reason
    post_options = PostprocessOptions(rescore=args.rescore, relax=args.relax, relax_solvent=args.relax_solvent,
                                      check=args.check, rank_by=args.rank_by, valid_first=args.valid_first)
    post = PosePostprocessor(post_options) if post_options.active else None
    extra_columns = summary_columns(post_options)
    tables = RunTables(out_dir, f".rank{rank}" if world_size > 1 else "", extra_columns)
    progress = tqdm(total=_total(args) if world_size == 1 else None, unit="ligand", disable=args.no_progress,
                    desc=f"dock[{rank}]" if world_size > 1 else "dock")
    def dock_chunk(chunk: list[DockJob]) -> None:
        """Dock the ligands of one protein together; record each ligand's outcome."""
        start = time.perf_counter()
        protein = chunk[0].protein
        rows = {job.index: {"index": job.index, "name": job.entry.name, "protein": job.protein,
                            "ligand": job.entry.description} for job in chunk}
        try:
            site = pocket
            if residues is not None:
                site = pocket_from_residues(pipeline.receptor(protein), residues, args.pocket_radius, protein)
            valid = [job for job in chunk if not job.entry.error]
            results = dict(zip([job.index for job in valid],
                               pipeline.dock_many(protein, [(j.entry.name, j.entry.ligand) for j in valid], site)))
        except DiscoError as exc:          # the protein or its pocket: every ligand of the chunk fails
            results = {job.index: exc for job in chunk}
        share = (time.perf_counter() - start) / len(chunk)
        for job in chunk:
            row, result = rows[job.index], results.get(job.index)
            if job.entry.error:
                tables.failure({**row, "seconds": 0.0}, f"{job.entry.name}: {job.entry.error}")
            elif isinstance(result, Exception):
                tables.failure({**row, "seconds": share}, str(result))
            else:
                extra_start = time.perf_counter()
                if post is not None:
                    try:
                        result = post.apply(result, protein)
                    except DiscoError as exc:
                        tables.failure({**row, "seconds": share}, str(exc))
                        progress.update(1)
                        continue
                seconds = share + time.perf_counter() - extra_start
                try:
                    write_ligand_outputs(out_dir, result, protein if args.write_complex else None)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):   # nothing more can be written
                        raise DiscoError(f"{out_dir}: disk full while writing {job.entry.name} "
                                         f"({exc.strerror})") from None
                    tables.failure({**row, "seconds": share}, f"{job.entry.name}: cannot write its outputs ({exc})")
                    continue
                tables.success({**row, "n_poses": len(result.poses), "top_confidence": result.confidences[0],
                                "seconds": seconds, "pocket": site_label, **top_pose_values(result, extra_columns)})
            progress.update(1)
        progress.set_postfix(ok=tables.n_ok, failed=tables.n_failed)

    site_label = (pocket.source if pocket is not None else
                  "residues:" + ",".join(residues) if residues is not None else "blind")
    try:
        chunk: list[DockJob] = []
        for job in _jobs(args):
            if job.index % world_size != rank:
                continue
            if chunk and (job.protein != chunk[0].protein or len(chunk) >= args.batch_size):
                dock_chunk(chunk)
                chunk = []
            chunk.append(job)
        if chunk:
            dock_chunk(chunk)
    finally:
        progress.close()
        tables.close()
    n_ok, n_failed = tables.n_ok, tables.n_failed
    if world_size > 1:
        counts = torch.tensor([n_ok, n_failed])
        torch.distributed.all_reduce(counts)
        n_ok, n_failed = (int(v) for v in counts)
        if rank == 0:
            merge_rank_tables(out_dir, world_size)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if rank == 0:
        print(f"docked {n_ok} ligand(s), {n_failed} failed -> {out_dir}/ (summary.csv, failures.csv)")
    if n_ok == 0 and n_failed > 0:
        return 1
    return 0
