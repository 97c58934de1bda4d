import dataclasses

import pytest
import torch

from disco_core.errors import DiscoError
from disco_core.trainer import Trainer, TrainerConfig, epoch_indices


def regression_problem():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=gen)
    y = x @ torch.randn(4, 1, generator=gen) + 0.1 * torch.randn(256, 1, generator=gen)
    return x, y


def make_parts(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.1), torch.nn.Linear(16, 1))
    x, y = regression_problem()

    def make_batch(step):
        idx = epoch_indices(len(x), 32, step, seed=0)
        return x[idx], y[idx]

    def loss_fn(m, batch, step):
        xb, yb = batch
        return ((m(xb) - yb) ** 2).mean()      # dropout consumes the global RNG: resume must restore it

    return model, make_batch, loss_fn


CFG = TrainerConfig(max_steps=40, lr=1e-2, log_every=10, checkpoint_every=20, progress=False, device="cpu")


def test_resume_matches_uninterrupted_run(tmp_path):
    model, make_batch, loss_fn = make_parts()
    full = Trainer(model, loss_fn, make_batch, CFG, tmp_path / "full")
    full.fit()

    model, make_batch, loss_fn = make_parts()
    first = Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, max_steps=20), tmp_path / "split")
    first.fit()
    model, make_batch, loss_fn = make_parts(seed=123)   # a fresh process would start from other weights
    second = Trainer(model, loss_fn, make_batch, CFG, tmp_path / "split")
    assert second.step == 20
    second.fit()
    for a, b in zip(full.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(full.ema.model.parameters(), second.ema.model.parameters()):
        assert torch.equal(a, b)
    lines = (tmp_path / "split" / "metrics.csv").read_text().strip().splitlines()
    assert lines[0].startswith("step,loss") and len(lines) == 5


def test_training_reduces_loss_and_writes_outputs(tmp_path):
    model, make_batch, loss_fn = make_parts()
    trainer = Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, max_steps=100, ema_decay=0.9), tmp_path)
    before = loss_fn(model.eval(), make_batch(0), 0).item()
    ema = trainer.fit()
    after = loss_fn(ema, make_batch(0), 0).item()
    assert after < 0.5 * before
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "metrics.csv").exists()


def test_epoch_indices_cover_dataset_and_shard_across_ranks():
    seen = torch.cat([epoch_indices(100, 10, step, seed=3) for step in range(10)])
    assert sorted(seen.tolist()) == list(range(100))
    rank0 = epoch_indices(100, 10, 0, seed=3, rank=0, world_size=2)
    rank1 = epoch_indices(100, 10, 0, seed=3, rank=1, world_size=2)
    assert not set(rank0.tolist()) & set(rank1.tolist())


def test_ddp_path_world_size_one(tmp_path, single_process_group):
    """The DistributedDataParallel code path with a real gloo process group of size 1 on CPU."""
    import torch.distributed as dist

    model, make_batch, loss_fn = make_parts()
    trainer = Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, max_steps=10), tmp_path)
    assert isinstance(trainer.train_model, torch.nn.parallel.DistributedDataParallel)
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    trainer.fit()
    assert (tmp_path / "checkpoint.pt").exists()


def test_warm_start_begins_from_the_source_weights_and_then_resumes_its_own(tmp_path):
    model, make_batch, loss_fn = make_parts()
    source = Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, max_steps=20), tmp_path / "source")
    source.fit()
    config = dataclasses.replace(CFG, max_steps=30, init_from=str(tmp_path / "source" / "checkpoint.pt"))
    model, make_batch, loss_fn = make_parts(seed=123)
    tuned = Trainer(model, loss_fn, make_batch, config, tmp_path / "tuned")
    assert tuned.step == 0
    for a, b in zip(source.ema.model.parameters(), tuned.model.parameters()):   # the source's EMA weights
        assert torch.equal(a, b)
    tuned.fit()
    model, make_batch, loss_fn = make_parts(seed=7)
    again = Trainer(model, loss_fn, make_batch, config, tmp_path / "tuned")   # its own checkpoint wins now
    assert again.step == 30
    for a, b in zip(tuned.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_warm_start_from_another_model_is_refused_with_the_file_named(tmp_path):
    other = torch.nn.Linear(3, 3)
    Trainer(other, lambda m, b, s: m(b).sum(), lambda s: torch.ones(2, 3),
            dataclasses.replace(CFG, max_steps=1), tmp_path / "other").fit()
    model, make_batch, loss_fn = make_parts()
    source = str(tmp_path / "other" / "checkpoint.pt")
    try:
        Trainer(model, loss_fn, make_batch, dataclasses.replace(CFG, init_from=source), tmp_path / "tuned")
    except DiscoError as error:
        assert source in str(error) and "do not match" in str(error)
    else:
        raise AssertionError("a mismatched warm start was accepted")


def test_cosine_learning_rate_warms_up_then_decays_to_its_floor(tmp_path):
    model, make_batch, loss_fn = make_parts()
    config = dataclasses.replace(CFG, max_steps=100, lr=1e-2, lr_min=1e-4, lr_schedule="cosine", warmup_steps=10)
    trainer = Trainer(model, loss_fn, make_batch, config, tmp_path)
    rates = []
    for step in range(101):
        trainer.step = step
        rates.append(trainer._lr())
    assert rates[0] == pytest.approx(1e-3) and rates[9] == pytest.approx(1e-2) and rates[10] == pytest.approx(1e-2)
    assert rates[55] == pytest.approx((1e-2 + 1e-4) / 2)
    assert rates[100] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    with pytest.raises(DiscoError, match="lr_schedule 'linear'"):
        Trainer(model, loss_fn, make_batch, dataclasses.replace(config, lr_schedule="linear"), tmp_path / "bad")
