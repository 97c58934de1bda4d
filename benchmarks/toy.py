"""The 2-D toy over several seeds: one table of W2, curvature and Jacobian norms per seed, plus the mean."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from disco_core.io import atomic_write_text
from disco_core.toy.experiment import ToyExperimentConfig, run_toy

COLUMNS = ["seed", "w2_baseline", "w2_disco", "w2_data_floor", "curvature_baseline", "curvature_disco",
           "jacobian_baseline", "jacobian_disco", "train_seconds_baseline", "train_seconds_disco", "seconds"]


def markdown_table(table: pd.DataFrame, digits: int = 4) -> str:
    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def run_toy_seeds(out_dir: str | Path, seeds: list[int], progress: bool = False) -> pd.DataFrame:
    """Runs (or resumes) `disco toy` for each seed under OUT/seed<S>; writes OUT/summary.csv and summary.md."""
    out_dir = Path(out_dir)
    rows = []
    for seed in seeds:
        metrics_path = out_dir / f"seed{seed}" / "metrics.json"
        if metrics_path.exists():
            metrics = json.loads(metrics_path.read_text())
        else:
            metrics = run_toy(out_dir / f"seed{seed}", ToyExperimentConfig(seed=seed), progress=progress)
        rows.append({key: metrics[key] for key in COLUMNS})
    table = pd.DataFrame(rows)
    mean = table.mean(numeric_only=True).to_frame().T.assign(seed="mean")
    table = pd.concat([table, mean], ignore_index=True)
    atomic_write_text(out_dir / "summary.csv", table.to_csv(index=False))
    header = (f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
              f"{torch.get_num_threads()} thread(s); written {time.strftime('%Y-%m-%d %H:%M')}\n\n")
    atomic_write_text(out_dir / "summary.md", header + markdown_table(table) + "\n")
    return table
