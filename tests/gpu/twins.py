"""The worker that tests/gpu/test_cuda.py launches under `torchrun --nproc-per-node 2`: the shared Trainer
(disco_core.trainer) trains the regression toy of tests/core/test_trainer.py under DistributedDataParallel
on DEVICE ("auto": each rank's GPU, cuda:LOCAL_RANK, so NCCL; "cpu": gloo, with CUDA hidden from the ranks),
then each rank writes OUT/rank<R>.json: the backend, its device, the loss on a fixed batch before and after,
and a checksum of its weights (DDP keeps the ranks' weights identical).

    python -m torch.distributed.run --nproc-per-node 2 -m tests.gpu.twins DEVICE OUT
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from disco_core.trainer import Trainer
from tests.core.test_trainer import CFG, make_parts


def main(device: str, out: Path) -> None:
    model, make_batch, loss_fn = make_parts()
    trainer = Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, max_steps=30, device=device), out / "run")
    fixed = tuple(t.to(trainer.device) for t in make_batch(0))
    with torch.no_grad():
        before = loss_fn(trainer.model.eval(), fixed, 0).item()
    trainer.fit()
    with torch.no_grad():
        after = loss_fn(trainer.model.eval(), fixed, 0).item()
    weights = torch.cat([p.detach().flatten() for p in trainer.model.parameters()]).double().cpu()
    rank = dist.get_rank()
    (out / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": dist.get_world_size(), "backend": dist.get_backend(),
        "device": str(trainer.device), "before": before, "after": after, "weights": weights.tolist()}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
