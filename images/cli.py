"""`disco images ...`: train, train-classifier, generate, eval. Parses arguments, calls the library,
prints results; library errors arrive as DiscoError and the root prints them as one line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from disco_core.config import load_config
from disco_core.errors import InputError


def _threads(args) -> None:
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)


def run_train(args) -> int:
    from .train import ImagesRunConfig, train_images

    _threads(args)
    run = load_config(ImagesRunConfig, args.config)
    if args.no_latents:
        run = replace(run, model=replace(run.model, use_latents=False))
    if args.unconditional and args.class_conditional_unet:
        raise InputError("--unconditional", "contradicts --class-conditional-unet")
    if args.unconditional:
        run = replace(run, model=replace(run.model, class_conditional_prior=False, class_conditional_unet=False))
    if args.class_conditional_unet:
        run = replace(run, model=replace(run.model, class_conditional_unet=True))
    if args.data:
        run = replace(run, data=args.data)
    if args.device:
        run = replace(run, trainer=replace(run.trainer, device=args.device),
                      prior_trainer=replace(run.prior_trainer, device=args.device))
    if args.steps:
        run = replace(run, trainer=replace(run.trainer, max_steps=args.steps))
    path = train_images(run, args.out)
    from disco_core.trainer import distributed_context
    if distributed_context()[0] == 0:
        print(f"model written to {path}")
    return 0


PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
BUNDLED_MODELS = {"disco": PRETRAINED_DIR / "disco_fashion_mnist.pt",
                  "baseline": PRETRAINED_DIR / "baseline_fashion_mnist.pt"}
BUNDLED_CLASSIFIER = PRETRAINED_DIR / "fd_classifier_fashion_mnist.pt"


def resolve_model_path(name: str) -> Path:
    """`disco` / `baseline` (the bundled models), a run folder (its model.pt) or a model file."""
    if name in BUNDLED_MODELS:
        path = BUNDLED_MODELS[name]
        if not path.is_file():
            raise InputError(name, f"bundled model missing ({path}); train one with `disco images train`")
        return path
    path = Path(name)
    if path.is_dir():
        if not (path / "model.pt").is_file():
            raise InputError(name, "run folder has no model.pt (training not finished? rerun the train command)")
        return path / "model.pt"
    if not path.is_file():
        raise InputError(name, "not a bundled model name (disco, baseline), a run folder or a model file")
    return path


def _device(args):
    from disco_core.device import resolve_device
    return resolve_device(args.device or "auto")


def run_generate(args) -> int:
    from tqdm import tqdm

    from .evaluate import generate
    from .image_io import save_grid, save_images
    from .train import load_trained_model

    _threads(args)
    if args.n < 1:
        raise InputError("--n", "must be at least 1")
    if args.steps < 2:
        raise InputError("--steps", "must be at least 2")
    trained = load_trained_model(resolve_model_path(args.model), _device(args))
    bar = tqdm(total=args.n, desc="sampling", disable=args.n <= args.batch_size)
    generated = generate(trained, args.n, args.steps, args.cfg, args.seed, args.label, args.batch_size,
                         args.temperature, progress=lambda done: bar.update(done - bar.n))
    bar.close()
    save_grid(args.out, generated.images, scale=args.scale)
    print(f"grid of {args.n} images written to {args.out}")
    if args.images_dir:
        paths = save_images(args.images_dir, generated.images)
        print(f"{len(paths)} images written to {args.images_dir}")
    return 0


def run_eval(args) -> int:
    import time

    from tqdm import tqdm

    from disco_core.io import atomic_write_text

    from .classifier import extract_features, load_classifier
    from .datasets import load_dataset
    from .evaluate import (curvature_summary, fd_in_feature_space, generate, inception_features,
                           load_inception)
    from .train import load_trained_model

    _threads(args)
    device = _device(args)
    names = args.model or ["disco", "baseline"]
    models = {name: load_trained_model(resolve_model_path(name), device) for name in names}
    first = next(iter(models.values()))
    data = args.data or first.config["data"]
    cfg = first.model.cfg
    reference = load_dataset(data, "test", cfg.image_size, cfg.channels)
    classifier_path = Path(args.classifier) if args.classifier else BUNDLED_CLASSIFIER
    if not args.classifier and data != "fashion-mnist":
        raise InputError("--classifier", f"no bundled fd_classifier for {data}: train one with "
                                         "`disco images train-classifier --data DIR --out DIR`")
    classifier, classifier_info = load_classifier(classifier_path, device)
    reference_features = extract_features(classifier, reference.images)
    inception = load_inception(args.inception, device) if args.inception else None
    reference_inception = inception_features(inception, reference.images) if inception is not None else None

    report = {"feature_network": {"name": "fd_classifier", "file": str(classifier_path),
                                  "dataset": classifier_info.get("dataset"),
                                  "test_accuracy": classifier_info.get("test_accuracy")},
              "reference": {"data": data, "split": "test", "n": len(reference)},
              "settings": {"n": args.n, "sampler": "heun", "steps": args.steps, "guidance": args.cfg,
                           "seed": args.seed, "prior_temperature": args.temperature},
              "models": {}}
    for name, trained in models.items():
        start = time.time()
        bar = tqdm(total=args.n, desc=f"sampling {name}")
        generated = generate(trained, args.n, args.steps, args.cfg, args.seed, None, args.batch_size,
                             args.temperature, progress=lambda done: bar.update(done - bar.n))
        bar.close()
        evaluations = (2 * args.steps - 1) * (2 if args.cfg and trained.model.cfg.use_latents else 1)
        entry = {"file": str(resolve_model_path(name)), "use_latents": trained.model.cfg.use_latents,
                 "label_to": trained.model.conditioning,
                 "network_evaluations": evaluations,
                 "fd_classifier": fd_in_feature_space(extract_features(classifier, generated.images),
                                                      reference_features),
                 "curvature": curvature_summary(generated), "training": trained.config.get("training", {}),
                 "sampling_seconds": round(time.time() - start, 1)}
        if inception is not None:
            entry["fid"] = fd_in_feature_space(inception_features(inception, generated.images), reference_inception)
        report["models"][name] = entry
        print(f"{name:>10}: fd_classifier {entry['fd_classifier']:.3f}   label -> {entry['label_to']}   curvature "
              f"{entry['curvature']['mean_turning_angle']:.4f} rad/step   ({evaluations} evaluations)"
              + (f"   FID {entry['fid']:.2f}" if "fid" in entry else ""))
    if "disco" in models and "baseline" in models:
        ratio = report["models"]["disco"]["fd_classifier"] / report["models"]["baseline"]["fd_classifier"]
        report["fd_classifier_ratio_disco_over_baseline"] = ratio
        print(f"fd_classifier ratio disco / baseline: {ratio:.3f}")
    seen = {name: entry["label_to"] for name, entry in report["models"].items()}
    report["label_use_matched"] = len(set(seen.values())) <= 1
    if not report["label_use_matched"]:
        print("note: the models see the class label differently (" + ", ".join(f"{n}: {v}" for n, v in seen.items())
              + "): a difference mixes the latents' effect with the label's (train matched pairs with "
                "--unconditional or --class-conditional-unet)")
    atomic_write_text(args.out, json.dumps(report, indent=2))
    print(f"metrics written to {args.out}")
    return 0


def run_train_classifier(args) -> int:
    from disco_core.config import load_config as load

    from .train import ClassifierRunConfig, train_fd_classifier

    _threads(args)
    run = load(ClassifierRunConfig, args.config) if args.config else ClassifierRunConfig()
    if args.data:
        run = replace(run, data=args.data)
    if args.steps:
        run = replace(run, trainer=replace(run.trainer, max_steps=args.steps))
    if args.device:
        run = replace(run, trainer=replace(run.trainer, device=args.device))
    path, info = train_fd_classifier(run, args.out)
    print(f"fd_classifier written to {path} (test accuracy {info['test_accuracy']:.4f})")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("images", help="DisCo-Diff image models (Fashion-MNIST or an image folder)",
                                   description="Train, sample and evaluate DisCo-Diff image models.")
    commands = parser.add_subparsers(title="image commands", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser("train", help="train the U-Net + encoder, then the prior (resumable)")
    train.add_argument("--config", required=True, help="YAML preset, e.g. configs/images/fashion_mnist.yaml")
    train.add_argument("--out", required=True, help="run folder (rerun the same command to resume)")
    train.add_argument("--no-latents", action="store_true", help="the ablation: same U-Net and budget, no latents")
    train.add_argument("--unconditional", action="store_true",
                       help="no model part sees the class label (the prior draws latents unconditionally); pair "
                            "with an unconditional --no-latents baseline")
    train.add_argument("--class-conditional-unet", action="store_true",
                       help="the U-Net gets the class label too; with --no-latents the class-conditional baseline "
                            "to compare with DisCo's class-conditional prior")
    train.add_argument("--data", help="'fashion-mnist' or a folder of images (overrides the config)")
    train.add_argument("--steps", type=int, help="override trainer.max_steps")
    train.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    train.add_argument("--threads", type=int, help="CPU threads for torch")
    train.set_defaults(run=run_train)

    def sampling_options(p, default_n: int) -> None:
        p.add_argument("--n", type=int, default=default_n, help="number of images")
        p.add_argument("--steps", type=int, default=18, help="Heun steps (2*steps-1 network evaluations)")
        p.add_argument("--cfg", type=float, default=0.0, help="guidance weight w on the latents (0: none)")
        p.add_argument("--temperature", type=float, default=1.0, help="prior sampling temperature")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--batch-size", type=int, default=250)
        p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
        p.add_argument("--threads", type=int, help="CPU threads for torch")

    generate = commands.add_parser("generate", help="sample images: prior -> latents -> Heun ODE")
    generate.add_argument("--model", default="disco", help="disco (default), baseline, a run folder or model.pt")
    sampling_options(generate, 64)
    generate.add_argument("--label", type=int, help="class to generate (default: drawn from the data)")
    generate.add_argument("--out", required=True, help="grid PNG")
    generate.add_argument("--images-dir", help="also write every image as a PNG here")
    generate.add_argument("--scale", type=int, default=2, help="pixel scale of the grid")
    generate.set_defaults(run=run_generate)

    evaluate = commands.add_parser("eval", help="fd_classifier (and FID with Inception weights) + ODE curvature")
    evaluate.add_argument("--model", action="append",
                          help="repeatable; default: both bundled models (disco and baseline)")
    sampling_options(evaluate, 10_000)
    evaluate.add_argument("--data", help="reference data (default: the model's training data, test split)")
    evaluate.add_argument("--classifier", help="fd_classifier file (default: the bundled Fashion-MNIST one)")
    evaluate.add_argument("--inception", help="Inception-v3 TorchScript (inception-2015-12-05.pt) for FID")
    evaluate.add_argument("--out", required=True, help="metrics JSON")
    evaluate.set_defaults(run=run_eval)

    classifier = commands.add_parser("train-classifier", help="train the feature network of fd_classifier")
    classifier.add_argument("--data", help="'fashion-mnist' (default) or a folder with one subfolder per class")
    classifier.add_argument("--config", help="YAML preset (configs/images/fd_classifier.yaml)")
    classifier.add_argument("--out", required=True, help="output folder (writes fd_classifier.pt)")
    classifier.add_argument("--steps", type=int, help="override trainer.max_steps")
    classifier.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    classifier.add_argument("--threads", type=int, help="CPU threads for torch")
    classifier.set_defaults(run=run_train_classifier)
