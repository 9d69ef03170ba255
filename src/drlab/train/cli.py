"""``drlab train``, ``drlab evaluate`` and ``drlab predict``: TP1 from the command line.

Only the standard library and the torch-free config are imported here; the handlers import the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from drlab.common.config import (
    add_command,
    add_dataclass_arguments,
    add_old_spelling,
    add_run_options,
    mark_untyped,
    typed_options,
)
from drlab.train.config import TrainConfig

CONFIG_FIELDS = frozenset(field.name for field in dataclasses.fields(TrainConfig))

TRAIN_DESCRIPTION = """\
TP1 ("classification supervisée"): train an image classifier with mini-batch gradient descent.

Each step follows the lecture: forward pass, loss (cross-entropy), gradients (backward), update.
After every epoch ("époque") the model is measured on held-out validation images and a checkpoint
is written; at the end the best epoch's weights are tested, exported and drawn in the run folder:
config.json, history.csv, metrics.json, model.safetensors, checkpoint.pt, curves.png,
confusion_matrix.png, predictions.png, confused_pairs.png.
"""

TRAIN_EPILOG = """\
examples:
  drlab train --dataset digits --model mlp --epochs 20         offline: the bundled 8x8 digits
  drlab train --dataset fashion-mnist --model cnn              TP1 (downloads Fashion-MNIST once)
  drlab train --model cnn-bn --scheduler one-cycle --lr 3e-3   the accuracy goal (~0.93)
  drlab train --recipe fast                                    a named recipe: fast, accurate, gpu
  drlab train --recipe accurate --epochs 10                    a recipe with one option changed
  drlab train --dataset digits --limit 300 --epochs 2          a tiny budget, in seconds
  drlab train --out runs/tp1 --epochs 20 --resume              continue runs/tp1 up to 20 epochs
  drlab train --model cnn --summary --epochs 1                 print layers, shapes, parameters
  drlab train --dataset digits --nproc 2                       data-parallel on 2 processes (torchrun)

defaults: lr 1e-3 for adam/adamw, 0.05 for sgd (momentum 0.9); epochs per model: softmax 10,
mlp 15, cnn 12, cnn-bn 20; a cosine learning-rate decay stepped every batch; cnn-bn trains on
randomly flipped images and is evaluated with test-time flips (--no-flip --no-tta: without).
then:   drlab evaluate RUN           drlab predict RUN shoe.png shirt.jpg
"""

EVALUATE_EPILOG = """\
examples:
  drlab evaluate runs/digits-mlp                 test accuracy, per class; refreshes metrics.json
  drlab evaluate runs/digits-mlp --split val     the validation part (writes metrics_val.json)
"""

PREDICT_EPILOG = """\
Images of any size and mode (PNG, JPEG, RGB, RGBA, greyscale) are converted to the training format:
greyscale, light object on a black background (a light background is inverted), resized to fit
28x28 (8x8 for digits) keeping the aspect ratio, then normalised like the training data.

examples:
  drlab predict runs/fashion-mnist-cnn sneaker.jpg bag.png
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``train``, ``evaluate`` and ``predict`` to the ``drlab`` command line."""
    train = add_command(
        subparsers,
        "train",
        help="TP1: train a classifier on Fashion-MNIST or digits; a run folder with metrics and plots",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
    )
    add_dataclass_arguments(train, TrainConfig)
    add_old_spelling(
        train, "--grad-clip", "max_grad_norm", float
    )  # drlab ≤ 0.1 (RL's name is every wing's now)
    # remember which options were typed (a recipe, and a resumed run, keep their values for the others)
    mark_untyped(train, TrainConfig)
    add_run_options(
        train,
        out="run directory (default: runs/DATASET-MODEL)",
        resume="continue the run in --out from its last checkpoint, up to --epochs",
    )
    train.add_argument(
        "--nproc",
        type=int,
        default=None,
        metavar="N",
        help="train on N processes with DistributedDataParallel: re-runs this command under "
        "`torchrun --standalone --nproc-per-node N` (--batch-size stays the global batch)",
    )
    train.set_defaults(handler=_train)

    evaluate = add_command(
        subparsers,
        "evaluate",
        help="re-measure a trained run on its test (or val/train) images and update its metrics",
        description="Reload RUN/model.safetensors, evaluate it on a split and print the metrics.",
        epilog=EVALUATE_EPILOG,
    )
    evaluate.add_argument("run", metavar="RUN", help="a run directory made by drlab train")
    evaluate.add_argument("--split", choices=("test", "val", "train"), default="test", help="which images")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda, mps (default: auto)")
    evaluate.add_argument("--data-dir", default=None, help="where the Fashion-MNIST files are cached")
    evaluate.add_argument("--offline", action="store_true", help="never download")
    evaluate.add_argument("--seed", type=int, default=None, metavar="N", help="seed (default: the run's)")
    evaluate.set_defaults(handler=_evaluate)

    predict = add_command(
        subparsers,
        "predict",
        help="classify image files with a trained run (top-3 classes with probabilities)",
        description="Classify image files with the model saved in RUN; print the 3 most probable classes.",
        epilog=PREDICT_EPILOG,
    )
    predict.add_argument("run", metavar="RUN", help="a run directory made by drlab train")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, …)")
    predict.add_argument(
        "--top", type=int, default=3, metavar="K", help="how many classes to show (default: 3)"
    )
    predict.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed (predictions are deterministic)"
    )
    predict.set_defaults(handler=_predict)


def _train(args: argparse.Namespace) -> int:
    """``drlab train``: build the config (a recipe's values, then the options typed; on --resume the saved
    run's, with what was typed on top), then :func:`drlab.train.run.train_run` does the rest."""
    from drlab.common.errors import DrlabError
    from drlab.train import distributed
    from drlab.train.config import default_out
    from drlab.train.recipes import apply_recipe  # [recipes] torch-free

    typed = {name: value for name, value in typed_options(args).items() if name in CONFIG_FIELDS}
    config: TrainConfig = apply_recipe(
        TrainConfig(**typed), given=typed
    )  # --recipe NAME: its values, then typed
    out = args.out if args.out is not None else default_out(config)
    if args.resume:
        from drlab.train.run import resume_config

        config = resume_config(out, typed)
    if args.nproc is not None:
        return _launch(args.nproc, config, out, resume=args.resume, force=args.force, quiet=args.quiet)
    from drlab.train.run import train_run

    try:
        train_run(
            config, out, resume=args.resume, force=args.force, progress=not args.quiet,
            log=None if args.quiet else print,
        )  # fmt: skip
    except DrlabError as exc:
        # under torchrun every rank meets the same error (bad option, busy run folder): rank 0 says it
        if getattr(exc, "reported_by_main", False) and not distributed.is_main_process():
            return exc.exit_code
        raise
    return 0


def _launch(nproc: int, config: TrainConfig, out: str, *, resume: bool, force: bool, quiet: bool) -> int:
    """``--nproc N``: the resolved run (every option written out) on N processes under torchrun."""
    import os

    from drlab.common.device import resolve_device
    from drlab.common.errors import UsageError
    from drlab.common.rundir import inspect_run_dir
    from drlab.train import distributed

    # every mistake gets its one-line error here, before any process starts or any folder is made
    most = max(4, 2 * (os.cpu_count() or 1))
    if not 1 <= nproc <= most:
        raise UsageError(f"--nproc must be ≥ 1 and at most {most} on this machine, got {nproc}")
    if distributed.read_env().launched:
        raise UsageError(
            "--nproc starts torchrun itself, but this process already runs under torchrun: drop --nproc"
        )
    resolved = config.resolved()  # checked
    folder = inspect_run_dir(out, "train", resume=resume, force=force)
    device = resolve_device(resolved.device)  # --device cuda without a GPU: refused now
    if device.type == "cuda":
        import torch

        if nproc > torch.cuda.device_count():
            raise UsageError(
                f"--nproc {nproc} needs {nproc} GPUs; this machine has {torch.cuda.device_count()}"
            )
    if resolved.batch_size < nproc:
        raise UsageError(
            f"--batch-size {resolved.batch_size} is the global batch: with --nproc {nproc} each process "
            f"needs at least one sample of it; use --batch-size ≥ {nproc}"
        )
    if resolved.limit is not None and max(1, round(resolved.limit * resolved.val_fraction)) < nproc:
        raise UsageError(
            f"--limit {resolved.limit} leaves fewer validation images than the {nproc} processes that share "
            f"them; use --limit ≥ {-(-nproc // resolved.val_fraction):.0f} or fewer processes"
        )
    switches = (("--resume", resume), ("--force", force), ("--quiet", quiet))
    run_options = ["--out", out, *(option for option, on in switches if on)]
    module_args = ["train", *distributed.config_argv(resolved), *run_options]
    return distributed.launch(nproc, module_args, checkpoint=folder / "checkpoint.pt")


def _evaluate(args: argparse.Namespace) -> int:
    from drlab.common.config import check_seed
    from drlab.train.evaluation import evaluate_run

    if args.seed is not None:
        check_seed(args.seed)
    # evaluate rewrites metrics.json and pictures: only in a folder drlab marked, and not while a run writes
    metrics = evaluate_run(
        args.run, args.split, device=args.device, data_dir=args.data_dir, offline=args.offline, seed=args.seed
    )
    split = args.split
    print(
        f"{split} accuracy {metrics[f'{split}_accuracy']:.4f}  loss {metrics[f'{split}_loss']:.4f}  "
        f"({metrics[f'{split}_samples']} images)"
    )
    width = max(len(name) for name in metrics["per_class_accuracy"])
    for name, accuracy in metrics["per_class_accuracy"].items():
        shown = "   n/a" if accuracy is None else f"{accuracy:.4f}"
        print(f"  {name:<{width}}  {shown}")
    if metrics["most_confused"]:
        pair = metrics["most_confused"][0]
        print(f"most confused: {pair['true']} → {pair['predicted']} ({pair['count']} times)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from drlab.common.errors import UsageError

    if args.top < 1:
        raise UsageError(f"--top must be ≥ 1, got {args.top}")
    from drlab.common.config import check_seed

    check_seed(args.seed)
    from drlab.common.seeding import seed_everything
    from drlab.train.predict import predict_files

    seed_everything(args.seed)
    for prediction in predict_files(args.run, args.images, k=args.top):
        ranked = ", ".join(f"{name} {probability:.1%}" for name, probability in prediction.top)
        print(f"{prediction.path}: {ranked}")
    return 0
