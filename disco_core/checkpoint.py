"""Checkpoints are a config (plain dict) plus tensors (state dicts), nothing else.

Saving is atomic; loading uses `torch.load(weights_only=True)`, which refuses pickled objects, and
every failure becomes one CheckpointError that names the file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .io import atomic_write_bytes

FORMAT = "disco-checkpoint-v1"


def save_checkpoint(path: str | Path, config: dict, state: dict[str, Any]) -> None:
    """`state` maps names (e.g. "model", "ema", "optimizer") to state dicts or plain values."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "config": config, "state": state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Returns (config, state). Raises CheckpointError for a missing, corrupted or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            reason = "contains pickled Python objects; refusing to load it (only tensors and plain data are allowed)"
        else:
            reason = f"corrupted or not a checkpoint ({first_line[:160]})"
        raise CheckpointError(f"{path}: {reason}") from None
    except Exception as exc:  # torch raises UnpicklingError subclasses for foreign content
        raise CheckpointError(f"{path}: not a loadable checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a DisCo checkpoint (missing format tag {FORMAT!r})")
    return payload["config"], payload["state"]
