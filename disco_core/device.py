"""Device selection: one place that turns `--device auto|cpu|cuda[:N]` into a torch.device."""

import os

import torch

from .errors import DiscoError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` prefers the rank's CUDA device under torchrun, then any CUDA device, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DiscoError(f"--device {name}: not a device name ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DiscoError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "cuda" and device.index is None:     # "cuda": this rank's GPU (torch.cuda.set_device needs one)
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device
