"""Few-step `--fast` on val (issue 44, item 1; rule in benchmarks/results/fast_steps_val/RULE.md): DisCo (latents
from the prior) and the same network with its null latent, at 4, 8, 12 and 20 reverse-diffusion steps, seeds 0
and 1. Each part (setting, seed) is one `disco bench dock` run; `disco/fast` always runs its preset at 20 steps, so
a part runs `disco` or `disco/null-latent` with the fast preset's settings given explicitly (the same preset as
`disco dock --fast --steps N`).

    python -m benchmarks.studies.fast_steps_val run [--dry-run] [--parts disco_steps4_s0,...] [--stop-at 07:55]
        runs the parts in RULE.md's order, one process at a time, into --runs (default
        runs/fast_steps/<setting>_s<seed>; a bench run resumes), copies each finished part's tables to the
        records (val_<setting>_seed<seed>/) and rewrites the summary; --dry-run prints the commands only
    python -m benchmarks.studies.fast_steps_val summary [--records DIR] [--out DIR]
        summary_val.json, per_complex_val.csv and best_of_ten_vs_steps.png of the parts the records hold, and the
        rule's verdict once every part of its comparison (DisCo at each step count, both seeds) is there
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
import json
import logging
from pathlib import Path
import subprocess
import sys

from benchmarks.studies import (DATASET, ROOT, RUNS, copy_run_tables, log_to_console, output_folder, paired_counts,
                                seeded_runs, study_parser, write_rows)

STUDY = "fast_steps_val"
SEEDS = (0, 1)
STEPS = (4, 8, 12, 20)
TODAY_STEPS = 20           # `--fast`'s steps when RULE.md was written (FAST has 8 since the rule chose them)
MARGIN = 2                 # the rule: best of ten within this many runs of today's
MODELS = {"disco": "disco", "null": "disco/null-latent"}     # setting prefix -> bench method
SPLIT = ROOT.parent / "shared" / "data" / "splits" / "val.txt"
# the fast preset's settings, given to the default's methods (the bench applies its overrides to them only)
FAST_SETTINGS = ("--physics-guidance", "0", "--refine-rounds", "0", "--random-starts", "0", "--energy", "pairwise")
log = logging.getLogger(STUDY)


def setting(model: str, steps: int) -> str:
    return f"{model}_steps{steps}"


def settings() -> list[str]:
    return [setting(model, steps) for model in MODELS for steps in STEPS]


def parse_setting(name: str) -> tuple[str, int]:
    """("disco" or "null", steps) of a setting's name."""
    model, steps = name.split("_steps")
    return model, int(steps)


def parts() -> list[tuple[str, int]]:
    """(setting, seed) in RULE.md's order: per seed, DisCo at every step count, then the null latent."""
    return [(name, seed) for seed in SEEDS for name in settings()]


def record_folder(records: Path, name: str, seed: int) -> Path:
    return records / f"val_{name}_seed{seed}"


def run_folder(runs: Path, name: str, seed: int) -> Path:
    return runs / f"{name}_s{seed}"


def bench_command(name: str, seed: int, runs: Path, dataset: Path, split: Path) -> list[str]:
    """The `disco bench dock` command of one part."""
    model, steps = parse_setting(name)
    disco = Path(sys.executable).with_name("disco")
    return [str(disco), "bench", "dock", "--dataset", str(dataset), "--split", str(split),
            "--methods", MODELS[model], "--steps", str(steps), *FAST_SETTINGS,
            "--pocket", "reference", "--no-interactions", "--threads", "1", "--seed", str(seed), "--no-progress",
            "--out", str(run_folder(runs, name, seed))]


def complete(records: Path, name: str, seed: int) -> bool:
    """A part is complete when its records hold the bench's results.csv (written once every complex has a row)."""
    return (record_folder(records, name, seed) / "results.csv").is_file()


# ------------------------------------------------------------------------------------------------ summary

def fast_steps_rule(best_of_ten: dict[int, int], today: int = TODAY_STEPS, margin: int = MARGIN) -> dict:
    """RULE.md: the fewest steps whose pooled best-of-ten count is at least today's (`today` steps) minus `margin`."""
    threshold = best_of_ten[today] - margin
    qualifying = sorted(steps for steps, count in best_of_ten.items() if count >= threshold)
    return {"today_steps": today, "today_best_of_ten": best_of_ten[today], "threshold": threshold,
            "qualifying_steps": qualifying, "fast_steps": qualifying[0]}


def _best_of_ten(runs: dict, name: str, seed: int, complex_id: str) -> float:
    from benchmarks.pool import rmsd

    return rmsd(runs[name][seed].get(complex_id), "min_rmsd")


def _fullest(pattern: dict[str, str], names: list[str], seeds: tuple[int, ...]) -> str:
    """The setting with the most rows over `seeds`: its complexes are the ones counted (a row another lacks, a miss)."""
    from benchmarks.pool import method_rows

    return max(names, key=lambda name: sum(len(method_rows(pattern[name].format(s=s), MODELS[parse_setting(name)[0]]))
                                           for s in seeds))


def summary(records: Path) -> tuple[dict, list[dict]]:
    """summary_val.json's table and per_complex_val.csv's rows from the complete parts in `records`: per seed,
    each complete setting's counts (benchmarks.pool.counts); pooled over the seeds, the settings complete in every
    seed, with paired top-1 counts against DisCo at 20 steps and between the two models at each step count; the
    rule's verdict when DisCo is complete at every step count and seed, else the missing parts."""
    from benchmarks.pool import method_rows

    done = {name: [s for s in SEEDS if complete(records, name, s)] for name in settings()}
    done = {name: seeds for name, seeds in done.items() if seeds}
    pattern = {name: str(records / f"val_{name}_seed{{s}}") for name in done}
    table: dict = {"parts_complete": {name: [f"seed{s}" for s in seeds] for name, seeds in done.items()},
                   "per_seed": {}}
    per_complex: dict[tuple[int, str], dict] = {}
    for seed in SEEDS:
        names = [name for name in done if seed in done[name]]
        if not names:
            continue
        counted, top1, _ = seeded_runs({name: (pattern[name], MODELS[parse_setting(name)[0]]) for name in names},
                                       (seed,), _fullest(pattern, names, (seed,)))
        table["per_seed"][f"seed{seed}"] = counted
        runs = {name: {seed: method_rows(pattern[name].format(s=seed), MODELS[parse_setting(name)[0]])}
                for name in names}
        for (s, complex_id) in top1[names[0]]:     # every setting's top1 holds the same (seed, complex) keys
            row = per_complex.setdefault((s, complex_id), {"seed": s, "id": complex_id})
            for name in names:
                row[f"{name}_top1"] = top1[name][(s, complex_id)]
                row[f"{name}_best_of_ten"] = _best_of_ten(runs, name, s, complex_id)

    pooled_names = [name for name, seeds in done.items() if tuple(seeds) == SEEDS]
    if pooled_names:
        counted, top1, _ = seeded_runs({name: (pattern[name], MODELS[parse_setting(name)[0]]) for name in pooled_names},
                                       SEEDS, _fullest(pattern, pooled_names, SEEDS))
        table["pooled"] = counted
        reference = setting("disco", TODAY_STEPS)
        table["paired_top1"] = {}
        for name in pooled_names:
            if name != reference and reference in top1:
                table["paired_top1"][f"{name}_vs_{reference}"] = paired_counts(top1, name, reference)
        for steps in STEPS:
            null, disco = setting("null", steps), setting("disco", steps)
            if null in top1 and disco in top1:
                table["paired_top1"][f"{disco}_vs_{null}"] = paired_counts(top1, disco, null)

    rule_parts = [(setting("disco", steps), s) for steps in STEPS for s in SEEDS]
    missing = [f"{name}_s{s}" for name, s in rule_parts if s not in done.get(name, [])]
    if missing:
        table["rule"] = {"verdict": None, "missing": missing}
    else:
        pooled = table["pooled"]
        verdict = fast_steps_rule({steps: pooled[setting("disco", steps)]["best_lt2"] for steps in STEPS})
        # for information (decides nothing): the null latent against the same threshold
        null = {steps: pooled[name]["best_lt2"] for steps in STEPS if (name := setting("null", steps)) in pooled}
        verdict["null_latent_within_threshold"] = [steps for steps, count in null.items()
                                                   if count >= verdict["threshold"]]
        table["rule"] = {"verdict": verdict}
    rows = [per_complex[key] for key in sorted(per_complex)]
    return table, rows


def plot(table: dict, path: Path) -> None:
    """Best of ten < 2 A against steps, one line per model: per seed (left, out of the seed's runs) and pooled over
    the seeds (right, the settings complete in both, with the rule's threshold once it applies)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (per_seed, pooled) = plt.subplots(1, 2, figsize=(9, 4))
    colours = {"disco": "tab:blue", "null": "tab:orange"}
    labels = {"disco": "DisCo (prior's latents)", "null": "null latent"}
    panels = [(per_seed, key, counted, "-" if key == "seed0" else "--") for key, counted in table["per_seed"].items()]
    panels.append((pooled, "seeds 0+1", table.get("pooled", {}), "-"))
    for ax, which, counted, style in panels:
        for model in MODELS:
            points = [(steps, counted[name]["best_lt2"]) for steps in STEPS
                      if (name := setting(model, steps)) in counted]
            if points:
                ax.plot(*zip(*points), linestyle=style, marker="o", color=colours[model],
                        label=f"{labels[model]}, {which}")
    rule = table.get("rule", {}).get("verdict")
    if rule:
        pooled.axhline(rule["threshold"], color="grey", linewidth=0.8, linestyle="-.", label="rule's threshold")
    for ax, title in ((per_seed, "per seed"), (pooled, "pooled over seeds 0 and 1")):
        runs = [entry["runs"] for panel, _, counted, _ in panels if panel is ax for entry in counted.values()]
        ax.set_ylim(0, max(runs, default=1))
        ax.set_xticks(list(STEPS))
        ax.set_xlim(STEPS[0] - 2, STEPS[-1] + 2)
        ax.set_xlabel("reverse-diffusion steps (--fast)")
        ax.set_ylabel("best of ten < 2 A (runs)")
        ax.set_title(f"val, pocket given, 10 poses: {title}", fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no setting complete in both seeds yet", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_summary(records: Path, out: Path) -> dict:
    table, rows = summary(records)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary_val.json").write_text(json.dumps(table, indent=2) + "\n")
    if rows:
        columns = ["seed", "id"] + [f"{name}_{kind}" for name in settings() for kind in ("top1", "best_of_ten")
                                    if any(f"{name}_{kind}" in row for row in rows)]
        write_rows(out / "per_complex_val.csv", [{key: row.get(key, "") for key in columns} for row in rows], columns)
        plot(table, out / "best_of_ten_vs_steps.png")
    return table


# ------------------------------------------------------------------------------------------------ runs

def run_parts(args: argparse.Namespace) -> None:
    chosen = [part for part in parts() if not args.parts or f"{part[0]}_s{part[1]}" in args.parts]
    for name, seed in chosen:
        command = bench_command(name, seed, args.runs, args.dataset, args.split)
        if complete(args.records, name, seed):
            log.info("done: %s_s%d", name, seed)
            continue
        log.info("%s", " ".join(command))
        if args.dry_run:
            continue
        if args.stop_at and datetime.now(timezone.utc).strftime("%H:%M") >= args.stop_at:
            log.info("%s UTC reached: no new part started", args.stop_at)
            return
        subprocess.run(command, check=True)
        copy_run_tables(run_folder(args.runs, name, seed), record_folder(args.records, name, seed))
        table = write_summary(args.records, args.out or args.records)
        log.info("%s_s%d finished; per seed: %s", name, seed, json.dumps(
            {key: {n: (c["top1_lt2"], c["best_lt2"]) for n, c in counted.items()}
             for key, counted in table["per_seed"].items()}))


def main(argv: list[str] | None = None) -> None:
    parser = study_parser(__doc__, STUDY)
    parser.add_argument("action", choices=["run", "summary"])
    parser.add_argument("--runs", type=Path, default=RUNS / "fast_steps",
                        help="bench run folders (default runs/fast_steps)")
    parser.add_argument("--dataset", type=Path, default=DATASET, help="complexes (default ../shared/data/complexes)")
    parser.add_argument("--split", type=Path, default=SPLIT, help="ids (default ../shared/data/splits/val.txt)")
    parser.add_argument("--parts", type=lambda text: set(text.split(",")), default=None,
                        help="only these parts, <setting>_s<seed> comma-separated (default all, in RULE.md's order)")
    parser.add_argument("--stop-at", metavar="HH:MM", help="start no part at or after this UTC time")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if args.action == "run":
        run_parts(args)
    else:
        table = write_summary(args.records, output_folder(args, STUDY))
        logging.getLogger("summary").info("%s", json.dumps(table, indent=2))


if __name__ == "__main__":
    log_to_console()
    main()
