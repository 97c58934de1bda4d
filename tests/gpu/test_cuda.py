"""CUDA tests, each with a CPU twin: every test is parametrized over the device, its `cuda` case marked `cuda`
(deselected, with a count, where torch.cuda.is_available() is False: tests/conftest.py) and its `cpu` case
running the same code everywhere, so that the test code itself is exercised on every machine. Each test
computes its CPU reference in the same test and compares the device's result with it; on the CPU twin that
compares the CPU with itself, so each test also checks what is meaningful on the CPU alone (exact
determinism, finiteness, the physics it computes, a falling loss).

Stated float32 tolerances (device vs CPU; both run the same float32 arithmetic, they differ only in summation
order -- CUDA's atomic index_add / scatter, its reduction trees -- and in fused kernels, so the differences
are a few float32 ulps of the summed magnitudes, ~1e-6 relative; every bound below leaves >= 100x margin).
TF32 is switched off for the comparisons (`exact_float32`): with TF32 matmuls a float32 matmul keeps a 10-bit
mantissa (~1e-3 relative), which is a different precision, not a different order of summation.

    score model outputs          |dev - cpu| <= 1e-4 + 1e-4 |cpu|         (output magnitudes are O(1..100))
    score model gradients        ||g_dev - g_cpu|| <= 1e-3 ||g_cpu|| per parameter tensor
    equivariance (float64)       the CPU test's 1e-5 (tests/docking/test_equivariance.py); dev vs cpu 1e-8
    grid maps                    |dev - cpu| <= 1e-3 kcal/mol + 1e-4 |cpu|  (sums over ~1000 receptor atoms)
    pose energies                |dev - cpu| <= 1e-3 kcal/mol + 1e-4 |cpu|
    pose energy gradients        ||g_dev - g_cpu|| <= 1e-3 ||g_cpu|| per pose

The dock CLI test (`test_dock_cli_on_the_device`) compares the device's poses with the CPU run's of the same
seed (the sampler's noise comes from a CPU generator on every device): see its docstring for the bound.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from docking.model.graph_network import ScoreModelConfig
from docking.model.pointer_latents import PointerEncoder
from docking.model.score_model import ScoreModel
from tests.data_paths import REPO
from tests.docking.test_equivariance import CONFIGS as EQUIVARIANCE_CONFIGS, TOLERANCE as EQUIVARIANCE_TOLERANCE
from tests.docking.test_equivariance import moved, random_rotation
from tests.docking.test_model import one_pick_per_graph, real_complex, sigmas_for, two_complexes

DEVICES = [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=pytest.mark.cuda)]

# The score model of tests/docking/test_model.py (TINY) with three layers, so every irreps stage is reached.
SMALL = ScoreModelConfig(ns=8, nv=2, num_conv_layers=3, distance_embed_dim=8, cross_distance_embed_dim=8,
                         sigma_embed_dim=8, num_latents=2)


@pytest.fixture
def exact_float32():
    """float32 stays float32 on the device: TF32 matmuls / convolutions off for the test, restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def on(device: str, batch: Batch) -> Batch:
    """A copy of the batch on the device (PyG's .to moves in place, so the CPU batch is cloned first)."""
    return batch.clone().to(torch.device(device))


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value.double().cpu() - reference.double()).norm() / reference.double().norm())


# ----------------------------------------------------------------------------------------------------
# 1. The score model's forward and backward


@pytest.mark.parametrize("device", DEVICES)
def test_score_model_forward_and_backward_match_the_cpu(device, exact_float32):
    torch.manual_seed(0)
    dev = torch.device(device)
    batch = two_complexes(40)
    sigmas = sigmas_for(2)
    picks = one_pick_per_graph(batch, torch.Generator().manual_seed(1))
    reference, encoder = ScoreModel(SMALL).eval(), PointerEncoder(SMALL).eval()   # eval: no latent dropout
    model, device_encoder = copy.deepcopy(reference).to(dev), copy.deepcopy(encoder).to(dev)
    # the loss: a fixed random linear functional of every output, so each output's gradient enters
    weights = {key: torch.randn(shape, generator=torch.Generator().manual_seed(2))
               for key, shape in (("tr_score", (2, 3)), ("rot_score", (2, 3)), ("tor_score", (9,)))}

    def forward_backward(score_model, encoder_model, where):
        out = score_model(on(where, batch), {k: v.to(where) for k, v in sigmas.items()}, picks.to(where))
        loss = sum((out[key] * weights[key].to(where)).sum() for key in weights)
        score_model.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            logits = encoder_model(on(where, batch))
        grads = {name: p.grad.detach().cpu() if p.grad is not None else None
                 for name, p in score_model.named_parameters()}
        return {k: v.detach().cpu() for k, v in out.items()}, logits.cpu(), grads

    out_cpu, logits_cpu, grads_cpu = forward_backward(reference, encoder, "cpu")
    out_dev, logits_dev, grads_dev = forward_backward(model, device_encoder, dev)
    assert out_cpu["tor_score"].shape == (9,)               # 1bju: 5 rotatable bonds, 1pxo: 4
    assert all(torch.isfinite(v).all() for v in [*out_cpu.values(), logits_cpu])
    with_grad = [name for name, g in grads_cpu.items() if g is not None and g.abs().sum() > 0]
    assert len(with_grad) >= 0.9 * len(grads_cpu), "the loss should reach (nearly) every parameter"
    if dev.type == "cpu":
        # the same float32 code on the same device is bitwise reproducible: what a device comparison needs
        for key in out_cpu:
            assert torch.equal(out_dev[key], out_cpu[key])
        assert torch.equal(logits_dev, logits_cpu)
        assert all(torch.equal(grads_dev[name], grads_cpu[name]) for name in with_grad)
    for key in out_cpu:
        assert out_dev[key].device.type == "cpu" and out_dev[key].dtype == torch.float32
        torch.testing.assert_close(out_dev[key], out_cpu[key], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits_dev, logits_cpu, atol=1e-4, rtol=1e-4)
    for name, g in grads_cpu.items():
        if name in with_grad:
            assert relative_error(grads_dev[name], g) <= 1e-3, name
        else:
            assert grads_dev[name] is None or grads_dev[name].abs().max() <= 1e-6, name


# ----------------------------------------------------------------------------------------------------
# 2. SE(3) equivariance on the device


@pytest.fixture(scope="module")
def float64_complexes() -> Batch:
    """As tests/docking/test_equivariance.py: 1bju and 1pxo, the 60 residues nearest each ligand, float64."""
    batch = Batch.from_data_list([real_complex("1bju", 60), real_complex("1pxo", 60)])
    for node_type in ("ligand", "receptor"):
        batch[node_type].pos = batch[node_type].pos.double()
    return batch


@pytest.mark.parametrize("config_name", sorted(EQUIVARIANCE_CONFIGS))
@pytest.mark.parametrize("device", DEVICES)
def test_score_model_is_se3_equivariant_on_the_device(float64_complexes, device, config_name):
    dev = torch.device(device)
    generator = torch.Generator().manual_seed(11)
    rotations = torch.stack([random_rotation(generator) for _ in range(2)])
    shifts = 10.0 * torch.randn(2, 3, generator=generator, dtype=torch.float64)
    torch.manual_seed(0)
    reference = ScoreModel(EQUIVARIANCE_CONFIGS[config_name]).double().eval()
    model = copy.deepcopy(reference).to(dev)
    sigmas = {"tr": torch.tensor([3.0, 8.0]), "rot": torch.tensor([0.4, 1.2]), "tor": torch.tensor([0.5, 2.0])}
    picks = one_pick_per_graph(float64_complexes, torch.Generator().manual_seed(1)).double()
    batch = on(device, float64_complexes)
    with torch.no_grad():
        before_cpu = reference(float64_complexes, sigmas, picks)
        args = ({k: v.to(dev) for k, v in sigmas.items()}, picks.to(dev))
        before = {k: v.cpu() for k, v in model(batch, *args).items()}
        after = {k: v.cpu() for k, v in model(moved(batch, rotations.to(dev), shifts.to(dev)), *args).items()}
    for key in ("tr_score", "rot_score"):
        assert before[key].norm(dim=-1).min() > 1e-3        # a vector that could visibly fail to rotate
        torch.testing.assert_close(after[key], torch.einsum("bij,bj->bi", rotations, before[key]),
                                   **EQUIVARIANCE_TOLERANCE)
    assert before["tor_score"].abs().max() > 1e-3
    torch.testing.assert_close(after["tor_score"], before["tor_score"], **EQUIVARIANCE_TOLERANCE)
    for key, value in before_cpu.items():          # float64: the device differs from the CPU by ~1e-15 relative
        torch.testing.assert_close(before[key], value, atol=1e-8, rtol=1e-8)


# ----------------------------------------------------------------------------------------------------
# 3. `disco dock --device DEVICE` on the shipped example


def _dock(out: Path, device: str) -> list:
    from disco_core.cli import main
    from tests.docking.test_dock_cli import LIGAND, PROTEIN, poses

    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--fast", "--samples", "3", "--steps", "4", "--seed", "0", "--no-progress",
                 "--device", device]) == 0
    return poses(out / "1s3v_ligand" / "poses.sdf")


@pytest.mark.parametrize("device", DEVICES)
def test_dock_cli_on_the_device(device, tmp_path):
    """`disco dock --device DEVICE --fast --samples 3 --steps 4 --seed 0` on examples/1s3v gives the CPU run's poses.

    The sampler draws all its noise from a CPU generator and moves it to the device (docking/inference/pipeline.py
    `_generator`, docking.model.pose_noise), so a CUDA run samples from the same noise as the CPU run; what differs
    is float32 rounding (CUDA's atomic sums: ~1e-6 relative in the score and the energy gradients), which --fast's
    4 sampler steps and its minimisation carry to ~1e-4 A. Checked against the CPU run of the same seed:
      - per rank, heavy-atom RMSD (symmetry-corrected) < 0.5 A where the pose touches the protein (energy < -1
        kcal/mol; a pose out of contact floats on a flat energy, as in tests/docking/test_dock_cli.py's batch test)
        and always for rank 1 (the same best pose); 0.5 A bounds rounding, far below a different pose (> 2 A);
      - the same energies (1e-2 kcal/mol + 1e-4 relative: a clashing pose's energy is O(100)).
    On the CPU twin the "device" run is a second CPU run, and it must be bitwise the first (the determinism the
    comparison relies on). On every device: the written interaction energies are the CPU's energies of the written
    poses (tests/docking/test_dock_cli.py's pose_energy, 1e-3 relative + 1e-2 kcal/mol) and rise with rank; the
    poses are the ligand (same atoms, in order) and stay in the pocket (centroid within 2 sigma_tr_max = 12 A of
    the crystal centroid).
    """
    from data_prep.pose_rmsd import symmetry_rmsd_of_mols
    from rdkit import Chem
    from tests.docking.test_dock_cli import LIGAND, SIGMA_TR_MAX, crystal_center, pose_energy

    cpu, first = _dock(tmp_path / "cpu", "cpu"), _dock(tmp_path / "device", device)
    assert len(first) == len(cpu) == 3
    reference = Chem.MolFromMolFile(LIGAND)
    energies = [[float(m.GetProp("interaction_energy")) for m in run] for run in (first, cpu)]
    np.testing.assert_allclose(energies[0], energies[1], rtol=1e-4, atol=1e-2)
    for rank, (a, b, energy) in enumerate(zip(first, cpu, energies[1]), start=1):
        assert int(a.GetProp("rank")) == int(b.GetProp("rank")) == rank
        if energy < -1.0 or rank == 1:      # in contact (rank 1 always: the same best pose)
            assert symmetry_rmsd_of_mols(a, [b])[0] < 0.5, f"rank {rank}"
    if device == "cpu":
        np.testing.assert_array_equal(np.stack([m.GetConformer().GetPositions() for m in first]),
                                      np.stack([m.GetConformer().GetPositions() for m in cpu]))
        assert energies[0] == energies[1]
    assert energies[0] == sorted(energies[0])
    assert [pose_energy(m) for m in first] == pytest.approx(energies[0], rel=1e-3, abs=1e-2)
    for mol in first:
        assert [a.GetSymbol() for a in mol.GetAtoms()] == [a.GetSymbol() for a in reference.GetAtoms()]
        distance = float(np.linalg.norm(mol.GetConformer().GetPositions().mean(0) - crystal_center()))
        assert distance < 2 * SIGMA_TR_MAX


# ----------------------------------------------------------------------------------------------------
# 4. Grid maps and interaction energies on the device


@pytest.fixture(scope="module")
def crystal():
    """The pairwise energy of the shipped complex (receptor atoms within 25 A), its crystal pose, a box."""
    from docking.physics.grid_maps import GridBox
    from tests.docking.test_interaction_energy import crystal_energy, crystal_ligand

    energy, pos = crystal_energy()
    center = pos.mean(0)
    box = GridBox.around(center, float((pos - center).norm(dim=1).max()) + 6.0)
    return energy, crystal_ligand(), pos.float(), box


@pytest.mark.parametrize("device", DEVICES)
def test_grid_maps_and_energies_match_the_cpu(crystal, device, exact_float32):
    from docking.physics.grid_maps import GridInteractionEnergy, ReceptorGrids
    from tests.docking.test_grid_maps import displaced_poses, gradient

    dev = torch.device(device)
    pairwise, mol, pos, box = crystal
    grid_cpu = GridInteractionEnergy.for_ligand(mol, ReceptorGrids(pairwise.receptor, box))
    # maps built where the receptor atoms are; .to(dev) then moves the ligand's internal (pairwise) part along,
    # as the docking pipeline does (for_ligand types the ligand on the CPU)
    grid_dev = GridInteractionEnergy.for_ligand(mol, ReceptorGrids(pairwise.receptor.to(dev), box)).to(dev)
    assert grid_dev.grids.maps.device.type == dev.type and grid_dev.grids.classes == grid_cpu.grids.classes
    maps_cpu, maps_dev = grid_cpu.grids.maps, grid_dev.grids.maps.cpu()
    assert maps_cpu.dtype == maps_dev.dtype == torch.float32 and torch.isfinite(maps_cpu).all()
    assert maps_cpu.std() > 0.1                     # maps with structure, not a constant
    torch.testing.assert_close(maps_dev, maps_cpu, atol=1e-3, rtol=1e-4)

    # the crystal pose, 16 rigidly shifted copies and 4 with each atom jittered by 0.3 A
    jitter = 0.3 * torch.randn(4, *pos.shape, generator=torch.Generator().manual_seed(5))
    poses = torch.cat([displaced_poses(pos), pos[None] + jitter])
    pairwise_dev = pairwise.to(dev)
    for energy_cpu, energy_dev in ((grid_cpu, grid_dev), (pairwise, pairwise_dev)):
        values_cpu, values_dev = energy_cpu(poses), energy_dev(poses.to(dev)).cpu()
        assert torch.isfinite(values_cpu).all() and float(values_cpu[0]) < float(values_cpu[1:17].min())
        torch.testing.assert_close(values_dev, values_cpu, atol=1e-3, rtol=1e-4)
        grads_cpu, grads_dev = gradient(energy_cpu, poses), gradient(energy_dev, poses.to(dev)).cpu()
        errors = (grads_dev - grads_cpu).norm(dim=1) / grads_cpu.norm(dim=1)
        assert errors.max() <= 1e-3
    # on the device, the grid still stands in for the pairwise sum (tests/docking/test_grid_maps.py's 0.2 kcal/mol)
    assert torch.allclose(grid_dev(poses.to(dev)).cpu(), pairwise_dev(poses.to(dev)).cpu(), atol=0.2)


# ----------------------------------------------------------------------------------------------------
# 5. A few training steps on the device lower the loss


def _fixed_batch(trainer):
    """Train on one batch: the trainer's step-0 batch, every step (the loss is then compared on it)."""
    batch = trainer.make_batch(0)
    trainer.make_batch = lambda step: batch
    return batch


def _loss_on(trainer, batch, seeds=(0, 1, 2)) -> float:
    """A docking stage's loss on `batch` with the random draws inside the loss (latent dropout, Gumbel picks)
    fixed by the seed, averaged over a few seeds, in training mode as the trainer computes it."""
    values = []
    trainer.train_model.train()
    with torch.no_grad():
        for seed in seeds:
            torch.manual_seed(seed)
            loss, extras = trainer.loss_fn(trainer.train_model, batch, 0)
            # the prior's loss is the cross-entropy H(q, p) against the encoder's q, whose floor H(q) is near
            # log(nodes) for a fresh encoder: the prior stage's excess over it, KL(q || p) >= 0, is compared
            values.append(float(loss) - extras.get("encoder_entropy", 0.0))
    return sum(values) / len(values)


@pytest.mark.parametrize("device", DEVICES)
def test_docking_stages_lower_their_loss_on_the_device(device, tmp_path):
    """The three docking stages (score + pointer encoder, pointer prior, confidence) of configs/docking/
    tiny.yaml on one shipped complex, each for a few steps on one batch: its loss on that batch falls.
    (No docking config turns on the trainer's bf16 autocast, `amp`, so the device runs in float32.)"""
    from docking.training.stages import confidence_trainer, prior_trainer, score_trainer
    from tests.docking.test_training import example_item, tiny_config

    config = tiny_config(max_steps=6)
    config.trainer = dataclasses.replace(config.trainer, device=device, seed=0)
    items = [example_item()]
    for make, steps in ((score_trainer, 6), (prior_trainer, 6), (confidence_trainer, 6)):
        trainer = make(config, items, [], tmp_path)
        assert trainer.device.type == torch.device(device).type
        assert next(trainer.model.parameters()).device.type == torch.device(device).type
        batch = _fixed_batch(trainer)
        before = _loss_on(trainer, batch)
        trainer.fit()
        after = _loss_on(trainer, batch)
        assert trainer.step == steps
        assert after < before, f"{make.__name__}: loss {before:.4f} -> {after:.4f}"


def _shapes(n: int = 8, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """n images in [-1, 1]: discs (label 0) and vertical bars (label 1), as tests/images/conftest.py draws."""
    generator = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    images, labels = [], []
    for i in range(n):
        u = torch.rand(3, generator=generator)
        if i % 2 == 0:
            image = (yy - (5 + 6 * u[0])) ** 2 + (xx - (5 + 6 * u[1])) ** 2 <= (2 + 3 * u[2]) ** 2
        else:
            left = int(1 + 8 * u[0])
            image = (xx >= left) & (xx < left + 2 + int(3 * u[1]))
        images.append(image.float() * 2 - 1)
        labels.append(i % 2)
    return torch.stack(images)[:, None], torch.tensor(labels)


@pytest.mark.parametrize("amp", [pytest.param(False, id="float32"), pytest.param(True, id="bf16")])
@pytest.mark.parametrize("device", DEVICES)
def test_image_unet_training_lowers_the_loss_on_the_device(device, amp, tmp_path):
    """The image model (U-Net + latent encoder, tests/images/conftest.py's tiny config) trained by the shared
    Trainer for 8 steps on one batch: the EDM loss on that batch falls. No config turns on bf16 autocast
    (TrainerConfig.amp), but the Trainer offers it, so it is run too (on the CPU, autocast to bfloat16 is
    CPU autocast)."""
    from disco_core.trainer import Trainer, TrainerConfig
    from images.disco_model import DiscoImageModel
    from images.train import diffusion_loss
    from tests.images.conftest import tiny_model_config

    dev = torch.device(device)
    torch.manual_seed(0)
    model = DiscoImageModel(tiny_model_config(latent_dropout=0.0))
    config = TrainerConfig(max_steps=8, lr=3e-3, ema_decay=0.0, log_every=4, checkpoint_every=8, progress=False,
                           device=device, amp=amp)
    images, labels = _shapes()
    batch = (images.to(dev), labels.to(dev))
    trainer = Trainer(model, diffusion_loss, lambda step: batch, config, tmp_path)
    assert next(trainer.model.parameters()).device.type == dev.type

    def loss_on() -> float:
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp)
        trainer.model.train()
        with torch.no_grad(), autocast:
            values = []
            for seed in range(4):
                torch.manual_seed(seed)
                values.append(float(diffusion_loss(trainer.model, batch, 0)))
        return sum(values) / len(values)

    before = loss_on()
    trainer.fit()
    after = loss_on()
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert after < before, f"loss {before:.4f} -> {after:.4f}"


# ----------------------------------------------------------------------------------------------------
# 6. Two processes under torchrun: NCCL on two GPUs, gloo on the CPU


TWO_PROCESSES = [
    # gloo: the same two-process command on the CPU. disco_core.trainer.distributed_context picks NCCL whenever
    # CUDA is available, so the CPU twin hides CUDA from its ranks (CUDA_VISIBLE_DEVICES=""), which makes it
    # gloo on a GPU machine too. (The docking CLI's gloo torchrun runs are tests/docking/test_dock_cli.py::
    # test_torchrun_shards_ligands_and_merges_tables and tests/docking/test_resume_shard.py; those shard
    # docking, not the Trainer's DistributedDataParallel, which is why this twin exists.)
    pytest.param("cpu", "gloo", id="cpu-gloo"),
    pytest.param("auto", "nccl", id="cuda-nccl", marks=[pytest.mark.cuda, pytest.mark.multi_gpu]),
]


@pytest.mark.parametrize("device, backend", TWO_PROCESSES)
def test_two_process_torchrun_trains_in_step(device, backend, tmp_path):
    """`torchrun --nproc-per-node 2 -m tests.gpu.twins`: the Trainer under DDP on two ranks (each on its own
    GPU, cuda:LOCAL_RANK, for NCCL); both ranks lower the loss and end with identical weights."""
    import socket

    with socket.socket() as probe:          # a free port: other torchrun tests use fixed ones
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
               "127.0.0.1", "--master-port", str(port), "-m", "tests.gpu.twins", device, str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, result in enumerate(ranks):
        assert result["rank"] == r and result["world_size"] == 2 and result["backend"] == backend
        assert result["device"] == ("cpu" if device == "cpu" else f"cuda:{r}")
        assert result["after"] < 0.5 * result["before"], result
    assert ranks[0]["weights"] == ranks[1]["weights"]       # DDP keeps the ranks' weights identical
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_cuda_without_an_index_is_this_ranks_gpu(monkeypatch):
    """`--device cuda` names the rank's GPU (torch.cuda.set_device and DDP's device_ids need an index): cuda:0
    alone, cuda:LOCAL_RANK under torchrun; an explicit index is kept. Runs without a GPU (device objects only)."""
    from disco_core.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:3") == torch.device("cuda", 3)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
