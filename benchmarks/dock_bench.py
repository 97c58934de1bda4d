"""`disco bench dock`: DisCo and AutoDock Vina side by side on a PDBBind-style folder.

Every method sees the same complexes and the same pocket definition, and every ligand starts from its
topology only (an RDKit conformer, never the crystal pose). Per complex and method the run stores
RUN/<method>/<id>.sdf (ranked poses) and then RUN/<method>/<id>.json (errors, PoseBusters validity of
the top pose, whether the top pose makes the crystal ligand's protein contacts (benchmarks.interaction_recovery;
off with `interactions=False`), seconds); the JSON is written last and atomically, so it marks a finished
item and a rerun skips it. A complex that fails is recorded with its reason and the run goes on.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from rdkit import Chem

from data_prep.inputs import ComplexJob, pdbbind_jobs, safe_name
from disco_core.errors import CheckpointError, DiscoError, InputError
from disco_core.io import atomic_open, atomic_write_text

from docking.request.presets import PRESET_OVERRIDES
from benchmarks.pose_metrics import pose_errors, read_references

POCKETS = ("reference", "blind")
METHODS = ("disco", "disco/fast", "disco/physics-only", "disco/null-latent", "disco/energy-ranked",
           "disco/scorer-ranked", "vina", "disco+vina", "disco+relax", "disco+vina+relax")
# Each DisCo method is a preset of `disco dock` (docking.request.presets: the default, or --fast), an ablation
# of the model, and post-processing. Ablations (what the learned model adds): physics-only, the learned score
# set to 0 with the same search (guidance, resampling, minimisation, basin hopping); null-latent, the score
# model's learned null latent instead of the prior's picks. Rankings of the default's poses: energy-ranked (the
# minimised interaction energy), scorer-ranked (the model folder's learned pose scorer). Post-processing (docking.inference.postprocess):
# Vina's local optimisation and ranking by the Vina score ("disco+vina" = `disco dock --rescore vina`), OpenMM
# relaxation in the pocket with the PoseBusters checks ranking valid poses first ("disco+relax" = `--relax
# --check`), or both ("disco+vina+relax").
DISCO_VARIANTS = {"disco": ("default", {}, {}),
                  "disco/fast": ("fast", {}, {}),
                  "disco/physics-only": ("default", {"learned_score": False}, {}),
                  "disco/null-latent": ("default", {"latents": "null"}, {}),
                  "disco/energy-ranked": ("default", {}, {"rank_by": "energy"}),
                  "disco/scorer-ranked": ("default", {}, {"rank_by": "scorer"}),
                  "disco+vina": ("default", {}, {"rescore": "vina", "rank_by": "vina"}),
                  "disco+relax": ("default", {}, {"relax": True, "check": True, "rank_by": "confidence"}),
                  "disco+vina+relax": ("default", {}, {"rescore": "vina", "rank_by": "vina", "relax": True,
                                                       "check": True})}
SETTINGS_THAT_CHANGE_RESULTS = ("dataset", "split", "pocket", "samples", "exhaustiveness", "seed",
                                *PRESET_OVERRIDES, "vina_timeout")


@dataclass
class DockBenchOptions:
    dataset: str
    out: str
    split: str | None = None
    methods: tuple[str, ...] = METHODS
    models: tuple[str | None, ...] = (None,)    # one DisCo entry per model folder; None: the bundled model
    pocket: str = "reference"                   # reference: site from the crystal ligand; blind: whole protein
    samples: int = 10                           # poses per complex (DisCo samples, Vina n_poses)
    exhaustiveness: int = 8                     # Vina's search effort
    steps: int | None = None                    # the default preset's settings, when given (None: the preset's);
    physics_guidance: float | None = None       # `disco/fast` always runs its own preset
    refine_rounds: int | None = None
    energy: str | None = None
    refine_chains: int | None = None
    random_starts: int | None = None
    seed: int = 0
    limit: int | None = None                    # first N complexes of the split
    device: str = "auto"
    vina_cpu: int = 1                           # Vina threads (1: timings comparable with 1-thread torch)
    vina_timeout: float | None = None           # stop Vina after this many seconds per complex (a miss)
    interactions: bool = True                   # top-1 recovery of the crystal contacts (ProLIF)


@dataclass
class BenchComplex:
    """A complex as the methods see it: the ligand without coordinates, the site, the crystal copies."""

    id: str
    protein_path: str
    ligand: Chem.Mol                              # topology only (no conformer)
    references: list[Chem.Mol]                    # crystal ligand, then other copies
    pocket_center: tuple[float, float, float] | None


@dataclass
class DockOutcome:
    poses: list[Chem.Mol]
    scores: list[float]
    score_kind: str
    extras: dict = field(default_factory=dict)


def topology_only(mol: Chem.Mol) -> Chem.Mol:
    """The molecule with every conformer removed: what a method may see of the crystal ligand."""
    bare = Chem.Mol(mol)
    bare.RemoveAllConformers()
    return bare


def _centroid(mol: Chem.Mol) -> tuple[float, float, float]:
    return tuple(float(v) for v in mol.GetConformer().GetPositions().mean(0))


# ------------------------------------------------------------------------------------------ methods

class DiscoMethod:
    """DisCo through the in-process API; one pipeline (models loaded once) per model folder."""

    score_kind = "confidence"

    def __init__(self, label: str, model: str | None, options: DockBenchOptions, variant: str = "disco"):
        from docking.inference.postprocess import PosePostprocessor, PostprocessOptions
        from docking.request.presets import PRESETS

        self.label, self.model, self.options = label, model, options
        preset_name, self.ablation, post = DISCO_VARIANTS[variant]
        preset = PRESETS[preset_name]
        if preset_name == "default":      # the bench's explicit settings apply to the default preset
            overrides = {key: getattr(options, key) for key in PRESET_OVERRIDES if getattr(options, key) is not None}
            preset = dataclasses.replace(preset, **overrides)
        self.preset = preset
        self._pipeline = None
        post_options = PostprocessOptions(**{"rank_by": preset.rank_by, **post})
        self.post = PosePostprocessor(post_options) if post_options.active else None
        self.rank_by = post_options.rank_by
        self.score_kind = {"vina": "vina_kcal_per_mol", "energy": "interaction_energy",
                           "intermolecular": "intermolecular_energy"}.get(post_options.rank_by, "confidence")

    def pipeline(self):
        if self._pipeline is None:
            from docking.inference.pipeline import DockingPipeline, DockOptions
            from docking.inference.ranking import sampling_rank
            from docking.request.presets import physics_for

            preset = self.preset
            physics = physics_for(preset.physics_guidance, preset.refine_rounds, self.rank_by, preset.refine_chains,
                                  preset.random_starts)
            self._pipeline = DockingPipeline(DockOptions(model=self.model, samples=self.options.samples,
                                                         steps=preset.steps, seed=self.options.seed,
                                                         device=self.options.device, physics=physics,
                                                         rank_by=sampling_rank(self.rank_by, physics is not None),
                                                         energy=preset.energy, **self.ablation))
        return self._pipeline

    def dock(self, item: BenchComplex) -> DockOutcome:
        result = self.pipeline().dock(item.protein_path, item.ligand, name=item.id, pocket_center=item.pocket_center)
        scores = [float(c) for c in result.confidences]
        if self.post is not None:
            result = self.post.apply(result, str(item.protein_path))
            scores = (result.extras["vina_score_kcal_mol"] if self.score_kind == "vina_kcal_per_mol"
                      else result.extras[self.score_kind] if self.score_kind in ("interaction_energy",
                                                                                 "intermolecular_energy")
                      else [float(c) for c in result.confidences])
        extras = {"sites": list(getattr(result, "sites", [])),
                  "confidences": [_finite_or_none(round(float(c), 6)) for c in result.confidences]}
        if "intermolecular_energy" in result.extras:   # per pose, so a ranking by it can be audited from the records
            extras["intermolecular_energy"] = [_finite_or_none(float(v)) for v in result.extras["intermolecular_energy"]]
        if "relax_seconds" in result.extras:     # the relaxation's share of the time, per pose
            extras["relax_seconds_per_pose"] = round(float(np.mean(result.extras["relax_seconds"])), 3)
        return DockOutcome(list(result.poses), scores, self.score_kind, extras)


class VinaMethod:
    """AutoDock Vina: box from the reference ligand plus padding, or around the whole protein."""

    score_kind = "vina_kcal_per_mol"

    def __init__(self, label: str, options: DockBenchOptions, receptor_dir: Path):
        self.label, self.options, self.receptor_dir = label, options, receptor_dir

    def dock(self, item: BenchComplex) -> DockOutcome:
        from docking.physics.vina import box_around_ligand, box_around_protein, vina_dock
        from docking.physics.vina_receptor import prepare_receptor

        receptor = prepare_receptor(item.protein_path, self.receptor_dir)
        box = (box_around_ligand(item.references[0]) if self.options.pocket == "reference"
               else box_around_protein(item.protein_path))
        arguments = dict(exhaustiveness=self.options.exhaustiveness, n_poses=self.options.samples,
                         seed=self.options.seed, cpu=self.options.vina_cpu, name=item.id)
        if self.options.vina_timeout is None:
            ranked = vina_dock(receptor, item.ligand, box, **arguments)
        else:
            ranked = _vina_dock_with_timeout(self.options.vina_timeout, receptor, item.ligand, box, arguments)
        return DockOutcome([pose for pose, _ in ranked], [score for _, score in ranked], self.score_kind,
                           {"box_center": list(box.center), "box_size": list(box.size),
                            "receptor_dropped": receptor.dropped_residues})


def _vina_child(connection, receptor, ligand: Chem.Mol, box, arguments: dict) -> None:
    from docking.physics.vina import vina_dock

    try:
        ranked = vina_dock(receptor, ligand, box, **arguments)
        connection.send([(Chem.MolToMolBlock(pose), score) for pose, score in ranked])
    except Exception as exc:      # sent to the parent, which raises it as this complex's failure
        connection.send(InputError(arguments["name"], str(exc)))
    finally:
        connection.close()


def _vina_dock_with_timeout(seconds: float, receptor, ligand: Chem.Mol, box, arguments: dict) -> list:
    """vina_dock in a child process that is stopped after `seconds` (Vina's search cannot be interrupted
    in-process): TimeoutError names the complex and the limit."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_vina_child, args=(child, receptor, ligand, box, arguments), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise TimeoutError(f"{arguments['name']}: Vina did not finish within {seconds:g} s (--vina-timeout)")
        result = parent.recv()
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        parent.close()
    if isinstance(result, Exception):
        raise result
    return [(Chem.MolFromMolBlock(block, removeHs=False), score) for block, score in result]


def method_labels(methods: tuple[str, ...], models: tuple[str | None, ...]) -> list[tuple[str, str, str | None]]:
    """(label, kind, model) per method entry: `disco` for the bundled model, `disco:<dir>` per model."""
    entries, seen = [], set()
    for kind in methods:
        if kind not in METHODS:
            raise InputError(kind, f"unknown method (use {', '.join(METHODS)})")
        if kind == "vina":
            entries.append(("vina", "vina", None))
            continue
        for model in models or (None,):
            label = kind if model is None else f"{kind}:{Path(model).resolve().name}"
            base, n = label, 2
            while label in seen:
                label, n = f"{base}-{n}", n + 1
            seen.add(label)
            entries.append((label, kind, model))
    if len({label for label, _, _ in entries}) != len(entries):
        raise InputError(",".join(methods), "a method is listed twice")
    return entries


def build_methods(options: DockBenchOptions, run_dir: Path) -> list:
    methods = []
    for label, kind, model in method_labels(tuple(options.methods), tuple(options.models)):
        methods.append(VinaMethod(label, options, run_dir / "receptors") if kind == "vina"
                       else DiscoMethod(label, model, options, kind))
    return methods


def method_dir(run_dir: Path, label: str) -> Path:
    return run_dir / safe_name(label.replace(":", "-"))


# ----------------------------------------------------------------------------------------- dataset

def load_complex(job: ComplexJob, pocket: str) -> BenchComplex:
    """Read one dataset entry; InputError names the complex and what is wrong."""
    if job.input_error:
        raise InputError(job.name, job.input_error)
    references = read_references(Path(job.ligand).parent, job.name)
    crystal = references[0]
    return BenchComplex(job.name, job.protein_path, topology_only(crystal), references,
                        _centroid(crystal) if pocket == "reference" else None)


def bench_jobs(options: DockBenchOptions) -> list[ComplexJob]:
    jobs = pdbbind_jobs(options.dataset, options.split)
    if options.limit is not None:
        jobs = jobs[: max(0, int(options.limit))]
    if not jobs:
        raise InputError(options.dataset, "no complexes to benchmark")
    return jobs


# -------------------------------------------------------------------------------------- evaluation

def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def evaluate(item: BenchComplex, outcome: DockOutcome, seconds: float, check_top_pose: bool = True) -> dict:
    """Errors of every ranked pose and PoseBusters validity of the top pose (with the protein)."""
    from docking.physics.posebusters_checks import check_poses

    if not outcome.poses:
        raise InputError(item.id, "the method returned no poses")
    errors = pose_errors(outcome.poses, item.references)
    record = {
        "id": item.id, "status": "ok", "error": "",
        "n_poses": len(outcome.poses),
        "rmsd": [round(float(v), 4) for v in errors.rmsd],
        "centroid_distance": [round(float(v), 4) for v in errors.centroid_distance],
        "reference_copy": [int(v) for v in errors.reference_index],
        "scores": [_finite_or_none(v) for v in outcome.scores],
        "score_kind": outcome.score_kind,
        "seconds": round(float(seconds), 3),
        "pb_valid": False, "pb_failed": "", "pb_checks": {},
        "extras": outcome.extras,
    }
    if check_top_pose:
        try:
            table = check_poses([outcome.poses[0]], item.protein_path, config="dock")
            row = table.iloc[0]
            record["pb_valid"] = bool(row["pb_valid"])
            record["pb_failed"] = str(row["pb_failed"])
            record["pb_checks"] = {c: bool(row[c]) for c in table.columns if c not in ("pb_valid", "pb_failed")}
        except Exception as exc:   # PoseBusters' own failure: the pose counts as not validated
            record["pb_failed"] = f"posebusters_error: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
    return record


def failure_record(complex_id: str, exc: BaseException, seconds: float = 0.0) -> dict:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not isinstance(exc, DiscoError):
        text = f"{type(exc).__name__}: {text}"
    return {"id": complex_id, "status": "failed", "error": text[:500], "seconds": round(float(seconds), 3)}


def write_poses(path: Path, outcome: DockOutcome, record: dict) -> None:
    with atomic_open(path, "w") as handle:
        writer = Chem.SDWriter(handle)
        for rank, (pose, score) in enumerate(zip(outcome.poses, outcome.scores), start=1):
            pose = Chem.Mol(pose)
            pose.SetProp("_Name", f"{record['id']}_rank{rank}")
            pose.SetIntProp("rank", rank)
            pose.SetDoubleProp(outcome.score_kind, float(score) if math.isfinite(float(score)) else float("nan"))
            pose.SetDoubleProp("rmsd", float(record["rmsd"][rank - 1]))
            writer.write(pose)
        writer.close()


def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None   # absent or unreadable (never half-written: writes are atomic): redo the item


# --------------------------------------------------------------------------------------------- run

def _check_settings(run_dir: Path, options: DockBenchOptions) -> None:
    """A run folder holds one set of result-changing settings; methods and limit may grow."""
    path = run_dir / "config.json"
    current = {key: getattr(options, key) for key in SETTINGS_THAT_CHANGE_RESULTS}
    current["dataset"] = str(Path(options.dataset).resolve())
    current["split"] = str(Path(options.split).resolve()) if options.split else None
    if path.is_file():
        saved = json.loads(path.read_text()).get("settings", {})
        changed = [key for key in SETTINGS_THAT_CHANGE_RESULTS if key in saved and saved[key] != current[key]]
        if changed:
            raise InputError(str(run_dir), "was made with other settings (" + ", ".join(
                f"{key}: {saved[key]} -> {current[key]}" for key in changed) + "); use a new --out")
    atomic_write_text(path, json.dumps({"settings": current, "options": asdict(options)}, indent=2, default=str) + "\n")


def run_dock_bench(options: DockBenchOptions, progress: bool = True,
                   on_item: Callable[[str, str, dict], None] | None = None) -> dict:
    """Run (or resume) the benchmark; returns the summary (also in RUN/summary.json, RUN/report.md)."""
    from tqdm import tqdm

    from benchmarks.dock_report import write_report

    if options.pocket not in POCKETS:
        raise InputError(options.pocket, f"unknown pocket definition (use {', '.join(POCKETS)})")
    if options.samples < 1:
        raise InputError(str(options.samples), "--samples must be at least 1")
    run_dir = Path(options.out)
    jobs = bench_jobs(options)
    methods = build_methods(options, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_settings(run_dir, options)

    recovery = None
    if options.interactions:
        from benchmarks.interaction_recovery import TopPoseRecovery

        recovery = TopPoseRecovery()
    todo = [(job, method) for job in jobs for method in methods
            if read_record(method_dir(run_dir, method.label) / f"{job.safe_name}.json") is None]
    bar = tqdm(total=len(jobs) * len(methods), initial=len(jobs) * len(methods) - len(todo),
               desc="bench dock", unit="run", disable=not progress, dynamic_ncols=True)
    loaded: dict[str, BenchComplex | Exception] = {}
    try:
        for job, method in todo:
            bar.set_postfix_str(f"{job.name} {method.label}")
            folder = method_dir(run_dir, method.label)
            if job.name not in loaded:
                loaded.clear()   # one complex at a time (methods run side by side)
                try:
                    loaded[job.name] = load_complex(job, options.pocket)
                except DiscoError as exc:
                    loaded[job.name] = exc
            item = loaded[job.name]
            start = time.perf_counter()
            try:
                if isinstance(item, Exception):
                    raise item
                outcome = method.dock(item)
                seconds = time.perf_counter() - start
                record = evaluate(item, outcome, seconds)
                if recovery is not None:
                    record.update(recovery.record(item.id, item.protein_path, item.references[0], outcome.poses[0]))
                write_poses(folder / f"{job.safe_name}.sdf", outcome, record)
            except CheckpointError:
                raise                       # a missing or broken model stops the run: no complex can succeed
            except (KeyboardInterrupt, SystemExit, MemoryError):
                raise
            except Exception as exc:        # anything else is this complex's failure; the run goes on
                record = failure_record(job.name, exc, time.perf_counter() - start)
            record["method"] = method.label
            atomic_write_text(folder / f"{job.safe_name}.json", json.dumps(record, indent=1) + "\n")
            if on_item is not None:
                on_item(job.name, method.label, record)
            bar.update(1)
    finally:
        bar.close()

    records = {method.label: [read_record(method_dir(run_dir, method.label) / f"{job.safe_name}.json") or
                              failure_record(job.name, RuntimeError("record missing"))
                              for job in jobs] for method in methods}
    for label, items in records.items():
        for record in items:
            record.setdefault("method", label)
    return write_report(run_dir, records, options)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def run_speed_bench(options: DockBenchOptions, progress: bool = True) -> dict:
    """Wall time per complex of DisCo (the default and --fast) vs Vina on the same complexes, and our peak
    memory; RUN/speed.json.

    The DisCo methods run first over all complexes so that the process's peak RSS after that phase is
    DisCo's own (model, receptor graphs, grids, sampling); Vina runs afterwards in the same process."""
    import platform

    import torch
    from tqdm import tqdm

    run_dir = Path(options.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs = bench_jobs(options)
    items, failures = [], []
    for job in jobs:
        try:
            items.append(load_complex(job, options.pocket))
        except DiscoError as exc:
            failures.append({"id": job.name, "method": "load", "error": str(exc)})
    rss_start = peak_rss_mb()
    model = tuple(options.models)[0] if options.models else None
    disco = DiscoMethod("disco", model, options, "disco")
    start = time.perf_counter()
    disco.pipeline()
    model_load_seconds = time.perf_counter() - start
    methods = {"disco": disco, "disco/fast": DiscoMethod("disco/fast", model, options, "disco/fast"),
               "vina": VinaMethod("vina", options, run_dir / "receptors")}
    seconds: dict[str, dict[str, float]] = {name: {} for name in methods}
    for name, method in methods.items():
        for item in tqdm(items, desc=f"speed {name}", disable=not progress, dynamic_ncols=True):
            start = time.perf_counter()
            try:
                method.dock(item)
                seconds[name][item.id] = time.perf_counter() - start
            except CheckpointError:
                raise
            except Exception as exc:
                failures.append({"id": item.id, "method": name, "error": str(exc).strip().splitlines()[0][:300]})
        if name == "disco/fast":
            rss_after_disco = peak_rss_mb()
            cuda_peak = (round(torch.cuda.max_memory_allocated() / 2**20, 1)
                         if disco.pipeline().device.type == "cuda" else None)
    both = sorted(set.intersection(*(set(times) for times in seconds.values())))

    def stat(name: str, how) -> float | None:
        return round(float(how([seconds[name][i] for i in both])), 3) if both else None

    report = {
        "complexes": both, "n": len(both), "failures": failures,
        "median_seconds_per_complex": {name: stat(name, np.median) for name in methods},
        "mean_seconds_per_complex": {name: stat(name, np.mean) for name in methods},
        "median_time_ratio_to_vina": {name: (round(stat(name, np.median) / stat("vina", np.median), 4)
                                             if both and stat("vina", np.median) else None)
                                      for name in methods if name != "vina"},
        "disco_model_load_seconds": round(model_load_seconds, 3),
        "peak_rss_mb_before_docking": rss_start,
        "peak_rss_mb_after_disco": rss_after_disco,
        "peak_rss_mb_after_vina": peak_rss_mb(),
        "cuda_peak_allocated_mb": cuda_peak,
        "per_complex_seconds": {i: {name: round(seconds[name][i], 3) for name in methods} for i in both},
        "settings": {"samples": options.samples, "exhaustiveness": options.exhaustiveness,
                     "disco_default": dataclasses.asdict(disco.preset),
                     "disco_fast": dataclasses.asdict(methods["disco/fast"].preset),
                     "pocket": options.pocket, "device": str(disco.pipeline().device), "vina_cpu": options.vina_cpu,
                     "torch_threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine()},
    }
    atomic_write_text(run_dir / "speed.json", json.dumps(report, indent=2) + "\n")
    return report
