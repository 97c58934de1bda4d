"""Docking benchmark tables and plots from the per-complex records of a run.

Rates are over all complexes of the run, a failed complex counting as a miss (and as not PoseBusters
valid); the median RMSD and the seconds per complex are over the complexes that finished.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from disco_core.io import atomic_open, atomic_write_text

SUCCESS_RMSD = 2.0
SUMMARY_COLUMNS = ["method", "n", "n_failed", "top1_lt2", "top5_lt2", "median_rmsd", "pb_valid",
                   "top1_lt2_and_pb_valid", "mean_centroid_distance", "seconds_per_complex",
                   "median_seconds_per_complex", "seconds_ratio_to_vina", "relax_seconds_per_pose",
                   "relax_seconds_per_pose_median", "confidence_auc", "confidence_ece", "top1_interaction_recovery",
                   "top1_hbonds_recovered"]


def _ok(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("status") == "ok" and r.get("rmsd")]


def _round(value, digits: int = 4):
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def success_at_k(records: list[dict], k: int) -> float:
    """Fraction of complexes whose best of the top-k ranked poses is within 2 A."""
    if not records:
        return float("nan")
    hits = sum(1 for r in _ok(records) if min(r["rmsd"][:k]) < SUCCESS_RMSD)
    return hits / len(records)


def _confidences_and_labels(records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    confidences, labels = [], []
    for r in _ok(records):
        values = (r.get("extras") or {}).get("confidences") or []
        for value, rmsd in zip(values, r["rmsd"]):
            if value is not None and np.isfinite(value):
                confidences.append(value)
                labels.append(rmsd < SUCCESS_RMSD)
    return np.array(confidences, dtype=float), np.array(labels, dtype=bool)


def reliability_markdown(records: dict[str, list[dict]]) -> list[str]:
    """Per method with confidences, the reliability table of its poses' P(RMSD < 2 A) (10 bins) as markdown."""
    from docking.confidence.calibration import reliability_table

    lines = []
    for method, items in records.items():
        confidences, labels = _confidences_and_labels(items)
        if len(confidences) == 0:
            continue
        lines += [f"Reliability of {method}'s confidences ({len(confidences)} poses):", "",
                  "| P(RMSD < 2 A) | poses | mean predicted | observed < 2 A |", "|---|---|---|---|"]
        for row in reliability_table(confidences, labels):
            if row["count"]:
                lines.append(f"| {row['low']:.1f}-{row['high']:.1f} | {row['count']} | {row['mean_predicted']:.3f} | "
                             f"{row['observed']:.3f} |")
        lines.append("")
    return lines


def confidence_quality(records: list[dict]) -> dict:
    """How well the poses' reported confidences (P(RMSD < 2 A), kept in the records' extras) separate and
    match the poses within 2 A: AUC and ECE over every pose of every finished complex. Empty when the
    method reports no finite confidence."""
    from docking.confidence.calibration import auc, expected_calibration_error

    confidences, labels = _confidences_and_labels(records)
    if len(confidences) == 0:
        return {}
    return {"confidence_auc": _round(auc(confidences, labels)),
            "confidence_ece": _round(expected_calibration_error(confidences, labels))}


def interaction_recovery_summary(records: list[dict]) -> dict:
    """Mean top-1 recovery of the crystal contacts over the finished complexes whose crystal pose has any, and
    the share of those with a crystal hydrogen bond whose top-1 pose has all of them
    (benchmarks.interaction_recovery); empty when no record carries them (a run with --no-interactions)."""
    finished = _ok(records)
    recovered = [r["interaction_recovery"] for r in finished if r.get("interaction_recovery") is not None]
    hbonds = [bool(r["hbonds_recovered"]) for r in finished if r.get("hbonds_recovered") is not None]
    summary = {}
    if recovered:
        summary["top1_interaction_recovery"] = _round(float(np.mean(recovered)))
        summary["n_interaction_complexes"] = len(recovered)
    if hbonds:
        summary["top1_hbonds_recovered"] = _round(float(np.mean(hbonds)))
        summary["n_hbond_complexes"] = len(hbonds)
    return summary


def summarize_method(records: list[dict]) -> dict:
    finished = _ok(records)
    n = len(records)
    top1 = np.array([r["rmsd"][0] for r in finished])
    valid = np.array([bool(r.get("pb_valid")) for r in finished], dtype=bool)
    relax = [r["extras"]["relax_seconds_per_pose"] for r in finished
             if "relax_seconds_per_pose" in (r.get("extras") or {})]
    return {
        "n": n,
        "n_failed": n - len(finished),
        "top1_lt2": _round(float((top1 < SUCCESS_RMSD).sum()) / n if n else float("nan")),
        "top5_lt2": _round(success_at_k(records, 5)),
        "median_rmsd": _round(float(np.median(top1)) if len(top1) else float("nan")),
        "pb_valid": _round(float(valid.sum()) / n if n else float("nan")),
        "top1_lt2_and_pb_valid": _round(float(((top1 < SUCCESS_RMSD) & valid).sum()) / n if n else float("nan")),
        "mean_centroid_distance": _round(float(np.mean([r["centroid_distance"][0] for r in finished]))
                                         if finished else float("nan")),
        "seconds_per_complex": _round(float(np.mean([r["seconds"] for r in finished])) if finished else float("nan"), 3),
        # a few huge ligands dominate the means (Vina: 26-93 min on peptides and lipids), so medians too
        "median_seconds_per_complex": _round(float(np.median([r["seconds"] for r in finished]))
                                             if finished else float("nan"), 3),
        **({"relax_seconds_per_pose": _round(float(np.mean(relax)), 3),
            "relax_seconds_per_pose_median": _round(float(np.median(relax)), 3)} if relax else {}),
        **confidence_quality(records),
        **interaction_recovery_summary(records),
    }


def summarize(records: dict[str, list[dict]]) -> dict:
    """Per method: success rates, median RMSD, validity, time; plus the time ratio to Vina."""
    summary = {label: summarize_method(items) for label, items in records.items()}
    vina = summary.get("vina", {}).get("seconds_per_complex")
    for label, row in summary.items():
        seconds = row["seconds_per_complex"]
        row["seconds_ratio_to_vina"] = _round(seconds / vina) if vina and seconds is not None else None
    return summary


def results_table(records: dict[str, list[dict]]) -> pd.DataFrame:
    rows = []
    for label, items in records.items():
        for r in items:
            ok = r.get("status") == "ok" and r.get("rmsd")
            rows.append({
                "method": label, "id": r["id"], "status": r.get("status", "failed"),
                "top1_rmsd": r["rmsd"][0] if ok else None,
                "top5_min_rmsd": min(r["rmsd"][:5]) if ok else None,
                "min_rmsd": min(r["rmsd"]) if ok else None,
                "top1_centroid_distance": r["centroid_distance"][0] if ok else None,
                "top1_score": r["scores"][0] if ok else None,
                "score_kind": r.get("score_kind", ""),
                "n_poses": r.get("n_poses", 0),
                "pb_valid": bool(r.get("pb_valid")) if ok else False,
                "pb_failed": r.get("pb_failed", ""),
                "seconds": r.get("seconds"),
                "top1_interaction_recovery": r.get("interaction_recovery") if ok else None,
                "top1_hbonds_recovered": r.get("hbonds_recovered") if ok else None,
                "error": r.get("error", ""),
            })
    return pd.DataFrame(rows)


def _plot(run_dir: Path, records: dict[str, list[dict]], max_k: int) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = run_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = []

    grid = np.linspace(0, 10, 201)
    figure, axes = plt.subplots(figsize=(5, 4))
    for label, items in records.items():
        top1 = np.array([r["rmsd"][0] for r in _ok(items)])
        fraction = [(top1 <= x).sum() / max(1, len(items)) for x in grid]
        axes.plot(grid, fraction, label=label)
    axes.axvline(SUCCESS_RMSD, color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="top-1 RMSD (A)", ylabel="fraction of complexes", ylim=(0, 1), xlim=(0, 10),
             title="Cumulative top-1 RMSD")
    axes.legend()
    figure.tight_layout()
    written.append(_save(figure, plots / "cumulative_rmsd.png"))
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(5, 4))
    ks = np.arange(1, max_k + 1)
    for label, items in records.items():
        axes.plot(ks, [success_at_k(items, int(k)) for k in ks], marker="o", label=label)
    axes.set(xlabel="number of ranked poses considered (k)", ylabel="fraction with RMSD < 2 A",
             ylim=(0, 1), title="Success rate vs number of samples")
    axes.legend()
    figure.tight_layout()
    written.append(_save(figure, plots / "success_vs_samples.png"))
    plt.close(figure)
    return written


def _save(figure, path: Path) -> str:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=120)
    return str(path)


def markdown_table(summary: dict) -> str:
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    for label, row in summary.items():
        cells = [label] + ["" if row.get(c) is None else (f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]))
                           for c in SUMMARY_COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(run_dir: str | Path, records: dict[str, list[dict]], options) -> dict:
    """RUN/summary.json, RUN/results.csv, RUN/failures.csv, RUN/report.md and RUN/plots/*.png."""
    from docking.request.presets import PRESET_OVERRIDES

    run_dir = Path(run_dir)
    summary = summarize(records)
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    table = results_table(records)
    atomic_write_text(run_dir / "results.csv", table.to_csv(index=False))
    failures = table.loc[table["status"] != "ok", ["method", "id", "error"]]
    atomic_write_text(run_dir / "failures.csv", failures.to_csv(index=False))
    max_k = max([len(r["rmsd"]) for items in records.values() for r in _ok(items)] or [1])
    plots = _plot(run_dir, records, max_k)
    settings = (f"dataset `{options.dataset}`, split `{options.split}`, pocket `{options.pocket}`, "
                f"{options.samples} poses per complex, Vina exhaustiveness "
                f"{options.exhaustiveness} ({options.vina_cpu} CPU thread), seed {options.seed}; "
                f"machine {platform.processor() or platform.machine()}; DisCo settings beyond `disco dock`'s "
                "defaults: " + (", ".join(f"{key} {getattr(options, key)}" for key in PRESET_OVERRIDES
                                          if getattr(options, key) is not None) or "none"))
    text = [
        "# Docking benchmark", "",
        f"Settings: {settings}.", "",
        "Success = symmetry-corrected heavy-atom RMSD < 2 A to the closest crystal copy. Rates are over all "
        "complexes (a failed complex counts as a miss); median RMSD (top-1) and seconds per complex are over "
        "finished complexes; pb_valid = the top-1 pose passes every PoseBusters `dock` check; confidence_auc / "
        "confidence_ece = how well the reported P(RMSD < 2 A) of every pose separates (AUC) and matches (expected "
        "calibration error, 10 bins) the poses within 2 A, for DisCo methods that report one; "
        "top1_interaction_recovery = the fraction of the crystal ligand's distinct (interaction type, residue) "
        "pairs (ProLIF: hydrogen bonds, salt bridges, pi-stacking, cation-pi, hydrophobic, metal, halogen) that "
        "the top-1 pose makes too, averaged over the finished complexes whose crystal pose makes any; "
        "top1_hbonds_recovered = the share of the finished complexes with a crystal hydrogen bond whose top-1 pose "
        "makes every crystal hydrogen-bond pair (summary.json gives both counts).", "",
        markdown_table(summary), "",
        f"Failures: {len(failures)} (see failures.csv). Per complex: results.csv.", "",
    ] + reliability_markdown(records) + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in plots]
    atomic_write_text(run_dir / "report.md", "\n".join(text) + "\n")
    return summary
