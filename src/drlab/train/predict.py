"""Classify image files with a trained run: any size, any mode, converted to the dataset's format.

Fashion-MNIST (and the digits) are light objects on a black background, centred in a small grey square.
A photo is usually the opposite: a dark object on a light background, in colour, of any size. So each
file is converted the same way:

1. RGBA / LA / palette images are composited onto black (transparent pixels become background);
2. converted to greyscale ("L");
3. inverted if its border is mostly light (so the background becomes black, as in the training data);
4. resized to fit the dataset's height × width *keeping its aspect ratio*, and centred on black.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drlab.common.errors import UsageError
from drlab.common.io import require_regular_file

#: the largest image accepted, in pixels (a 50-megapixel photo): the header is read first, so a
#: "decompression bomb" (a small PNG that unpacks to 20000×20000) is refused before it is unpacked
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class Prediction:
    """The top classes for one image file."""

    path: str
    """the image file"""
    top: tuple[tuple[str, float], ...]
    """(class name, probability), most probable first"""


def image_to_array(path: str | Path, height: int, width: int) -> np.ndarray:
    """Read an image file and return it as a uint8 ``(height, width)`` array in the dataset's format."""
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    file = require_regular_file(path, "image file")  # a FIFO would block open() forever
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as opened:
                pixels = opened.width * opened.height
                if pixels > MAX_PIXELS:
                    raise UsageError(
                        f"{file}: {opened.width}×{opened.height} pixels is too large to classify "
                        f"(at most {MAX_PIXELS:,} pixels; it would be shrunk to {width}×{height} anyway)"
                    )
                opened.load()
                image = opened.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UsageError(f"{file}: refused, a decompression bomb ({str(exc)[:120]})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UsageError(f"{file}: not a readable image ({type(exc).__name__}: {str(exc)[:120]})") from exc
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > 127:  # light background: invert, the training images are light on black
        grey = 255 - grey
    fitted = ImageOps.contain(Image.fromarray(grey), (width, height), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (width, height), 0)
    canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def images_to_batch(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 ``(N, H, W)`` → float32 ``(N, 1, H, W)``, normalised exactly as :class:`drlab.data.Batches` does."""
    x = torch.as_tensor(images, dtype=torch.float32).div(255.0).unsqueeze(1)
    return (x - mean) / std


@torch.inference_mode()
def top_k(
    model: torch.nn.Module, x: torch.Tensor, classes: Sequence[str], k: int = 3
) -> list[list[tuple[str, float]]]:
    """The ``k`` most probable classes (softmax of the logits) for each image of ``x``."""
    model.eval()
    probabilities = torch.softmax(model(x).float(), dim=1)
    values, indices = probabilities.topk(min(k, len(classes)), dim=1)
    return [
        [(classes[int(i)], float(p)) for p, i in zip(row_values, row_indices, strict=True)]
        for row_values, row_indices in zip(values, indices, strict=True)
    ]


def predict_files(run_dir: str | Path, paths: Sequence[str | Path], k: int = 3) -> list[Prediction]:
    """Load the model of ``run_dir`` and return the top-``k`` classes of every image file in ``paths``."""
    from drlab.train.run import load_trained_model

    model, info = load_trained_model(run_dir)
    _, height, width = info["image_shape"]
    arrays = np.stack([image_to_array(path, height, width) for path in paths])  # every file read first
    x = images_to_batch(arrays, info["mean"], info["std"])
    return [
        Prediction(path=str(path), top=tuple(top))
        for path, top in zip(paths, top_k(model, x, info["classes"], k), strict=True)
    ]
