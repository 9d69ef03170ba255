"""``drlab data``: download, verify and describe the datasets of TP1.

Only the standard library and light drlab modules are imported here; the handlers import the rest.
"""

from __future__ import annotations

import argparse
from typing import Any

from drlab.common.config import add_command, add_dataclass_arguments, dataclass_from_namespace
from drlab.common.errors import DrlabError, UsageError
from drlab.data.config import DataConfig

DATASET_NAMES = ("fashion-mnist", "digits")

DATA_EPILOG = """\
examples:
  drlab data download fashion-mnist                  # into ~/.cache/drlab (or $DRLAB_DATA)
  drlab data download fashion-mnist --mirror http://lab-server/datasets/fashion/
  drlab data verify fashion-mnist --data-dir ./data  # files copied there by hand (.gz or unpacked)
  drlab data info digits --seed 1

Where Fashion-MNIST comes from, in order: the cache; the system's copy in /usr/share/datasets/fashion-mnist
(Debian/Ubuntu: sudo apt install dataset-fashion-mnist), read in place; then the mirrors: your --mirror
URLs, Zalando's S3 site, the GitHub copy (pinned commit), the Keras copy. Every file is verified by
content (Zalando's bytes, or unpacked bytes with the right SHA-256) before it is used or cached.
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``drlab data {download,verify,info}``."""
    data = add_command(
        subparsers, "data", help="download, verify and describe datasets (Fashion-MNIST, digits)",
        description="The datasets of TP1: Fashion-MNIST from verified mirrors, and the bundled 8x8 digits.",
        epilog=DATA_EPILOG,
    )  # fmt: skip
    commands = data.add_subparsers(title="commands", metavar="COMMAND")
    data.set_defaults(handler=lambda args: _print_help(data))

    download = add_command(
        commands, "download", help="download what no local source has into the cache, checking every file",
        description="Download the files of a dataset that neither the cache nor the system's copy holds, "
        "verify them, and place them atomically in the cache.",
        epilog=DATA_EPILOG,
    )  # fmt: skip
    _add_options(download, exclude=("verify",))
    download.add_argument(
        "--mirror", dest="mirrors", action="append", default=[], metavar="URL",
        help="a mirror base URL tried before the official ones (repeatable)",
    )  # fmt: skip
    download.set_defaults(handler=run_download)

    verify = add_command(
        commands, "verify", help="verify each file by content, in the cache or the system's copy",
        description="Verify every file of a dataset by content (the cache, then the system's copy in "
        "/usr/share/datasets); exit 1 if one is missing, 2 if one is wrong.",
    )  # fmt: skip
    _add_options(verify, exclude=("verify", "offline", "timeout", "quiet"))
    verify.set_defaults(handler=run_verify)

    info = add_command(
        commands, "info", help="sizes, classes, where drlab looks, where each file came from",
        description="Describe a dataset: its files, sizes and classes, where drlab looks for them, where each "
        "file was found, and whether it checks out.",
    )  # fmt: skip
    _add_options(info, exclude=("offline", "timeout", "quiet"))
    info.set_defaults(handler=run_info)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _add_options(parser: argparse.ArgumentParser, exclude: tuple[str, ...]) -> None:
    parser.add_argument(
        "name", choices=DATASET_NAMES, metavar="NAME", help="dataset: fashion-mnist or digits"
    )
    add_dataclass_arguments(parser, DataConfig, exclude=("name", "mirrors", *exclude))


def _config(args: argparse.Namespace) -> DataConfig:
    from drlab.common.config import check_number, check_seed

    config = dataclass_from_namespace(DataConfig, args)  # offline False: DRLAB_OFFLINE decides
    # NaN and inf pass argparse's float(); sockets take neither (and a day is patience enough)
    check_number("--timeout", config.timeout, 0, 86_400, low_open=True)
    check_seed(config.seed)
    return config


def _human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def run_download(args: argparse.Namespace) -> int:
    """``drlab data download NAME``: fetch what is missing, verify everything, report where it is."""
    config = _config(args)
    if config.name == "digits":
        print("digits: bundled with drlab, nothing to download (1,797 images of 8x8 pixels)")
        return 0
    from drlab.data.cache import dataset_dir, ensure_files
    from drlab.data.fashion_mnist import FASHION_MNIST

    statuses = ensure_files(
        FASHION_MNIST, config.data_dir, mirrors=config.mirrors, offline=config.offline or None, verify=True,
        timeout=config.timeout, progress=False if config.quiet else None,
    )  # fmt: skip
    print(
        f"{FASHION_MNIST.title}: all {len(statuses)} files verified (cache: {dataset_dir(FASHION_MNIST, config.data_dir)})"
    )
    for role, status in statuses.items():
        print(f"  {role:<13} {status.path}  ({_source_words(status.source)})")
    return 0


def _source_words(source: str) -> str:
    return "the system's copy, read in place" if source == "system" else "cache"


def run_verify(args: argparse.Namespace) -> int:
    """``drlab data verify NAME``: one line per file; exit 1 if one is missing, 2 if one is wrong."""
    config = _config(args)
    if config.name == "digits":
        from drlab.data.datasets import load_digits

        dataset = load_digits(seed=config.seed)
        print(f"digits: bundled with drlab, {len(dataset.y_train) + len(dataset.y_test):,} images load fine")
        return 0
    from drlab.data.cache import dataset_dir, file_statuses, missing_message
    from drlab.data.fashion_mnist import FASHION_MNIST

    statuses = file_statuses(FASHION_MNIST, config.data_dir, verify=True)
    directory = dataset_dir(FASHION_MNIST, config.data_dir)
    print(f"{FASHION_MNIST.title} (cache: {directory})")
    for status in statuses:
        shown = str(status.path) if status.path else status.file.name
        detail = "" if status.state == "wrong" else f": {status.detail}"
        print(f"  {status.state:<8} {shown}{detail}")
    wrong = [status for status in statuses if status.state == "wrong"]
    if wrong:
        raise UsageError(
            wrong[0].detail + (f" (and {len(wrong) - 1} more wrong file(s))" if len(wrong) > 1 else "")
        )
    missing = [status for status in statuses if status.state == "missing"]
    if missing:
        raise DrlabError(missing_message(FASHION_MNIST, directory, missing, "not found"))
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``drlab data info NAME``: what the dataset is, where it is cached, whether it checks out."""
    config = _config(args)
    if config.name == "digits":
        from drlab.data.datasets import load_digits

        dataset = load_digits(seed=config.seed)
        print("digits: the 8x8 handwritten digits bundled with drlab (real images, UCI's, works offline)")
        print(
            f"  train {len(dataset.y_train):,} / test {len(dataset.y_test):,} images of 8x8 (split with --seed {config.seed})"
        )
        print(f"  classes: {', '.join(dataset.classes)}")
        print(
            f"  normalisation: mean {dataset.mean:.4f}, std {dataset.std:.4f} (of pixel/255 on the train split)"
        )
        print("  cached: no need, it ships inside drlab")
        return 0
    from drlab.data.cache import dataset_dir, file_statuses, where_to_look
    from drlab.data.fashion_mnist import FASHION_MNIST

    manifest = FASHION_MNIST
    statuses = file_statuses(manifest, config.data_dir, verify=config.verify)
    print(f"{manifest.title}: {manifest.homepage}")
    train, test = manifest.files["train_images"].shape, manifest.files["test_images"].shape
    print(f"  train {train[0]:,} / test {test[0]:,} grayscale images of {train[1]}x{train[2]}")
    print(f"  classes: {', '.join(f'{i} {c}' for i, c in enumerate(manifest.classes))}")
    print(f"  normalisation: mean {manifest.mean}, std {manifest.std} (of pixel/255 on the train split)")
    print(f"  cached in: {dataset_dir(manifest, config.data_dir)}")
    print(f"  looks in: {where_to_look(manifest, config.data_dir)}")
    for status in statuses:
        where = f"  from {status.path} ({_source_words(status.source)})" if status.path else ""
        print(
            f"  {status.file.name:<28} {_human(status.file.size):>9}  {status.state}: {status.detail}{where}"
        )
    states = {status.state for status in statuses}
    verdict = (
        "verified" if states == {"verified"} else "not verified" if "wrong" not in states else "WRONG FILES"
    )
    advice = (
        f" (install the system package: sudo apt install {manifest.system_package}; or, with network, "
        f"run 'drlab data download {manifest.name}')"
        if "missing" in states
        else ""
    )
    print(f"  status: {verdict}{advice}")
    return 0
