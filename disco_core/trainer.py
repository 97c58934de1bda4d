"""One training loop for every task: AdamW, EMA, gradient clipping, optional AMP, DDP under torchrun,
exact resume, a progress bar and metrics in CSV.

Data comes from `make_batch(step) -> batch`, a pure function of the global step (and the rank). That makes
resuming exact (the batch after a restart is the batch the uninterrupted run would have seen) and makes
sharding across DDP ranks trivial; `epoch_indices` builds such batches from a dataset of n items.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .config import save_config
from .device import resolve_device
from .errors import DiscoError

LossFn = Callable[[nn.Module, Any, int], "torch.Tensor | tuple[torch.Tensor, dict]"]


LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainerConfig:
    max_steps: int = 10_000
    lr: float = 2e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    lr_schedule: str = "constant"   # or "cosine": decays to lr_min at max_steps (after the warmup)
    lr_min: float = 0.0
    grad_clip: float = 1.0          # 0 disables clipping
    ema_decay: float = 0.999
    amp: bool = False               # bfloat16 autocast
    log_every: int = 100
    checkpoint_every: int = 1_000
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    tensorboard: bool = False
    init_from: str = ""             # a checkpoint whose weights start a fresh run (fine-tuning)


def distributed_context() -> tuple[int, int]:
    """(rank, world_size); initialises the process group when launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or os.environ.get("DISCO_FORCE_DDP") == "1":
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend)
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def epoch_indices(num_items: int, batch_size: int, step: int, seed: int, rank: int = 0,
                  world_size: int = 1) -> torch.Tensor:
    """Indices of the batch for `step`: a fresh seeded permutation per epoch, each rank taking its slice."""
    global_batch = batch_size * world_size
    batches_per_epoch = max(num_items // global_batch, 1)
    epoch, position = divmod(step, batches_per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(num_items, generator=generator)
    start = position * global_batch + rank * batch_size
    return order[torch.arange(start, start + batch_size) % num_items]


class EMA:
    """Exponential moving average of parameters (buffers are copied)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1 - self.decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


class Trainer:
    """Trains `model` on `loss_fn(model, make_batch(step), step)`; writes OUT/checkpoint.pt, OUT/metrics.csv,
    OUT/config.yaml. `model_config` is stored in the checkpoint so the model can be rebuilt from it."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, make_batch: Callable[[int], Any], config: TrainerConfig,
                 out_dir: str | Path, model_config: dict | None = None,
                 on_log: Callable[[int, nn.Module], dict] | None = None, run_config: Any = None):
        if config.lr_schedule not in LR_SCHEDULES:
            raise DiscoError(f"lr_schedule {config.lr_schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")
        self.config = config
        self.out_dir = Path(out_dir)
        self.rank, self.world_size = distributed_context()
        self.device = resolve_device(config.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(config.seed + self.rank)
        self.model = model.to(self.device)
        self.ema = EMA(self.model, config.ema_decay)
        self.train_model = self.model
        if dist.is_initialized():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, betas=config.betas,
                                           weight_decay=config.weight_decay)
        self.loss_fn, self.make_batch, self.on_log = loss_fn, make_batch, on_log
        self.model_config = model_config or {}
        self.run_config = run_config
        self.step = 0
        self.checkpoint_path = self.out_dir / "checkpoint.pt"
        if self.checkpoint_path.exists():
            self._resume()
        elif config.init_from:
            self._warm_start(Path(config.init_from))

    # -- state -------------------------------------------------------------------------------------------
    def _state(self) -> dict:
        state = {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "step": self.step,
                 "rng_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _resume(self) -> None:
        _, state = load_checkpoint(self.checkpoint_path, map_location=self.device)
        try:
            self.model.load_state_dict(state["model"])
            self.ema.model.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError) as exc:
            raise DiscoError(f"{self.checkpoint_path}: cannot resume, it does not match this model "
                             f"({str(exc).splitlines()[0][:160]})") from None
        self.step = int(state["step"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"].cpu(), self.device)

    def _warm_start(self, path: Path) -> None:
        """Start a fresh run from another run's (EMA) weights: fine-tuning. Optimizer and step start anew;
        once this run has its own checkpoint, resuming ignores `init_from`."""
        _, state = load_checkpoint(path, map_location=self.device)
        weights = state.get("ema", state.get("model"))
        try:
            self.model.load_state_dict(weights)
            self.ema.model.load_state_dict(weights)
        except (TypeError, RuntimeError) as exc:
            raise DiscoError(f"{path}: cannot start from these weights, they do not match this model "
                             f"({str(exc).splitlines()[0][:160]})") from None

    def save(self) -> None:
        if self.rank == 0:
            config = {"model": self.model_config, "trainer": dataclasses.asdict(self.config)}
            save_checkpoint(self.checkpoint_path, config, self._state())

    # -- loop --------------------------------------------------------------------------------------------
    def _lr(self) -> float:
        cfg = self.config
        if cfg.warmup_steps and self.step < cfg.warmup_steps:
            return cfg.lr * (self.step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine":
            span = max(cfg.max_steps - cfg.warmup_steps, 1)
            progress = min(max(self.step - cfg.warmup_steps, 0) / span, 1.0)
            return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1.0 + math.cos(math.pi * progress))
        return cfg.lr

    def _log(self, row: dict) -> None:
        if self.rank != 0:
            return
        path = self.out_dir / "metrics.csv"
        new = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def fit(self) -> nn.Module:
        """Train until `max_steps`; returns the EMA model. Safe to call again after an interruption."""
        cfg = self.config
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if self.run_config is not None:
                save_config(self.run_config, self.out_dir / "config.yaml")
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if cfg.amp else nullcontext())
        bar = tqdm(total=cfg.max_steps, initial=self.step, disable=not cfg.progress or self.rank != 0,
                   desc="train", dynamic_ncols=True)
        start, window = time.time(), []
        self.train_model.train()
        while self.step < cfg.max_steps:
            batch = self.make_batch(self.step)
            with autocast:
                result = self.loss_fn(self.train_model, batch, self.step)
            loss, extras = result if isinstance(result, tuple) else (result, {})
            if not torch.isfinite(loss):
                raise DiscoError(f"training diverged at step {self.step}: loss is {loss.item()}")
            for group in self.optimizer.param_groups:
                group["lr"] = self._lr()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.ema.update(self.model)
            self.step += 1
            window.append(loss.item())
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                row = {"step": self.step, "loss": sum(window) / len(window), "lr": self._lr(),
                       "seconds": round(time.time() - start, 3)}
                row.update({k: float(v) for k, v in extras.items()})
                if self.on_log is not None:
                    row.update(self.on_log(self.step, self.ema.model))
                self._log(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
                window = []
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.max_steps:
                self.save()
        bar.close()
        return self.ema.model
