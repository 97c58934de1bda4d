"""Training stages for images, all through disco_core's Trainer (EMA, resume, torchrun):

1. `train_diffusion`: the U-Net and the encoder together, end to end through the straight-through
   Gumbel-softmax (or the U-Net alone for the no-latent ablation);
2. `train_prior`: the transformer prior on the latents the frozen (EMA) encoder gives the training images;
3. `export_model`: one small file with the EMA weights of both, which `generate` and `eval` load;
and `train_fd_classifier` for the feature network of the `fd_classifier` metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from disco_core.checkpoint import load_checkpoint, save_checkpoint
from disco_core.config import config_from_dict, save_config
from disco_core.device import resolve_device
from disco_core.errors import CheckpointError, InputError
from disco_core.latents import gumbel_softmax_st
from disco_core.prior import TransformerPrior
from disco_core.trainer import Trainer, TrainerConfig, distributed_context, epoch_indices

from .classifier import ClassifierConfig, FeatureClassifier, accuracy, classifier_loss, save_classifier
from .datasets import ImageDataset, load_dataset, to_model_range
from .disco_model import DiscoImageConfig, DiscoImageModel, build_prior

MODEL_KIND = "disco-images"


# -- the fd_classifier ---------------------------------------------------------------------------------------
@dataclass
class ClassifierRunConfig:
    data: str = "fashion-mnist"
    image_size: int = 32            # image folders only
    channels: int = 3               # image folders only
    batch_size: int = 128
    model: ClassifierConfig = field(default_factory=ClassifierConfig)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_steps=2000, lr=2e-3, ema_decay=0.99, log_every=100, checkpoint_every=500))


def _batches(dataset: ImageDataset, batch_size: int, seed: int, device: torch.device, with_labels: bool):
    rank, world_size = distributed_context()

    def make_batch(step: int):
        index = epoch_indices(len(dataset), batch_size, step, seed, rank, world_size)
        images = to_model_range(dataset.images[index]).to(device)
        if not with_labels:
            return images, None
        return images, dataset.labels[index].to(device) if dataset.labels is not None else None
    return make_batch


def train_fd_classifier(run: ClassifierRunConfig, out_dir: str | Path) -> tuple[Path, dict]:
    """Train the classifier, measure test accuracy, write OUT/fd_classifier.pt. Returns (path, info)."""
    out_dir = Path(out_dir)
    train_set = load_dataset(run.data, "train", run.image_size, run.channels)
    test_set = load_dataset(run.data, "test", run.image_size, run.channels)
    if train_set.labels is None:
        raise InputError(run.data, "the fd_classifier needs labeled data (one subfolder per class)")
    channels, size, _ = train_set.shape
    model_cfg = ClassifierConfig(**{**asdict(run.model), "image_size": size, "channels": channels,
                                    "num_classes": train_set.num_classes})
    model_cfg.widths = tuple(model_cfg.widths)
    device = resolve_device(run.trainer.device)
    model = FeatureClassifier(model_cfg)
    trainer = Trainer(model, classifier_loss, _batches(train_set, run.batch_size, run.trainer.seed, device, True),
                      run.trainer, out_dir / "training", model_config=asdict(model_cfg), run_config=run)
    ema = trainer.fit().eval()
    info = {"dataset": train_set.name, "class_names": list(train_set.class_names),
            "test_accuracy": accuracy(ema, test_set.images, test_set.labels), "train_steps": run.trainer.max_steps}
    path = out_dir / "fd_classifier.pt"
    if trainer.rank == 0:
        save_classifier(path, ema.cpu(), info)
    return path, info


# -- DisCo (or the no-latent ablation) -----------------------------------------------------------------------
@dataclass
class ImagesRunConfig:
    data: str = "fashion-mnist"     # or a folder of images (model.image_size / model.channels apply)
    batch_size: int = 32
    model: DiscoImageConfig = field(default_factory=DiscoImageConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    prior_batch_size: int = 256
    prior_trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(
        max_steps=3000, lr=1e-3, warmup_steps=100, ema_decay=0.999, log_every=100, checkpoint_every=1000))


def prepare_run(run: ImagesRunConfig) -> tuple[ImagesRunConfig, ImageDataset]:
    """Load the training data and fit the model's data-dependent fields (size, channels, classes) to it."""
    dataset = load_dataset(run.data, "train", run.model.image_size, run.model.channels)
    channels, size, _ = dataset.shape
    model = replace(run.model, image_size=size, channels=channels, num_classes=dataset.num_classes)
    return replace(run, model=model), dataset


def prior_condition(labels: torch.Tensor | None, batch: int, device) -> torch.Tensor:
    """The prior's condition: the class labels, or zeros for unlabeled data (an unconditional prior)."""
    return labels if labels is not None else torch.zeros(batch, dtype=torch.long, device=device)


def diffusion_loss(model, batch, step):
    images, labels = batch
    return model(images, labels).mean()


def prior_loss(prior, batch, step):
    condition, codes = batch                                      # codes: (B, K) indices
    one_hot = F.one_hot(codes, prior.module.codebook_size if hasattr(prior, "module") else prior.codebook_size)
    logits = prior(condition, one_hot.float())
    return F.cross_entropy(logits.flatten(0, 1), codes.flatten())


@torch.no_grad()
def encode_dataset(model: DiscoImageModel, dataset: ImageDataset, seed: int, batch_size: int = 500) -> torch.Tensor:
    """Latent codes (N, K) that the frozen encoder assigns to every training image: hard Gumbel-softmax
    samples, the codes the U-Net saw in training."""
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    codes = []
    for i in range(0, len(dataset), batch_size):
        logits = model.encoder(to_model_range(dataset.images[i:i + batch_size]).to(device)).float().cpu()
        codes.append(gumbel_softmax_st(logits, 1.0, True, generator).argmax(-1))
    return torch.cat(codes)


def train_images(run: ImagesRunConfig, out_dir: str | Path) -> Path:
    """Stage 1 (U-Net + encoder), stage 2 (prior, DisCo only), then export OUT/model.pt. Each stage resumes
    from its own checkpoint, so rerunning an interrupted command continues where it stopped."""
    out_dir = Path(out_dir)
    run, dataset = prepare_run(run)
    rank, _ = distributed_context()
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(run, out_dir / "config.yaml")
    device = resolve_device(run.trainer.device)
    torch.manual_seed(run.trainer.seed)
    model = DiscoImageModel(run.model)
    stage1 = Trainer(model, diffusion_loss, _batches(dataset, run.batch_size, run.trainer.seed, device, True),
                     run.trainer, out_dir / "diffusion", model_config=asdict(run.model), run_config=run)
    ema_model = stage1.fit().eval()

    prior_state = None
    if run.model.use_latents:
        codes = encode_dataset(ema_model, dataset, run.prior_trainer.seed)
        torch.manual_seed(run.prior_trainer.seed)
        prior = build_prior(run.model)

        def make_prior_batch(step: int):
            index = epoch_indices(len(codes), run.prior_batch_size, step, run.prior_trainer.seed,
                                  *distributed_context())
            labels = dataset.labels[index] if dataset.labels is not None else None
            return prior_condition(labels, len(index), "cpu").to(device), codes[index].to(device)

        stage2 = Trainer(prior, prior_loss, make_prior_batch, run.prior_trainer, out_dir / "prior",
                         model_config=asdict(run.model.prior), run_config=run)
        prior_state = {k: v.cpu() for k, v in stage2.fit().state_dict().items()}
        code_usage = torch.bincount(codes.flatten(), minlength=run.model.codebook_size)
    path = out_dir / "model.pt"
    if rank == 0:
        config = {"kind": MODEL_KIND, "model": asdict(run.model), "data": run.data,
                  "class_names": list(dataset.class_names),
                  "label_frequencies": (torch.bincount(dataset.labels, minlength=dataset.num_classes).float()
                                        / len(dataset)).tolist() if dataset.labels is not None else [],
                  "training": {"steps": run.trainer.max_steps, "batch_size": run.batch_size,
                               "seed": run.trainer.seed, "prior_steps": run.prior_trainer.max_steps
                               if run.model.use_latents else 0}}
        if prior_state is not None:
            config["training"]["codes_used"] = int((code_usage > 0).sum())
        state = {"model": {k: v.cpu() for k, v in ema_model.state_dict().items()}}
        if prior_state is not None:
            state["prior"] = prior_state
        save_checkpoint(path, config, state)
    return path


@dataclass
class TrainedModel:
    model: DiscoImageModel
    prior: TransformerPrior | None
    config: dict

    @property
    def class_names(self) -> list[str]:
        return self.config.get("class_names", [])

    @property
    def label_frequencies(self) -> list[float]:
        return self.config.get("label_frequencies", [])


def load_trained_model(path: str | Path, device: str | torch.device = "cpu") -> TrainedModel:
    """Rebuild the model (and prior) from an exported OUT/model.pt."""
    config, state = load_checkpoint(path, map_location=device)
    if config.get("kind") != MODEL_KIND:
        raise CheckpointError(f"{path}: not a DisCo images model (kind {config.get('kind')!r})")
    model_cfg = config_from_dict(DiscoImageConfig, config["model"], str(path))
    model = DiscoImageModel(model_cfg).to(device)
    model.load_state_dict(state["model"])
    prior = None
    if model_cfg.use_latents:
        prior = build_prior(model_cfg).to(device)
        prior.load_state_dict(state["prior"])
        prior.eval()
    return TrainedModel(model.eval(), prior, config)
