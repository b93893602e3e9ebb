"""The image shapes the Core ML models are exported for, and how the runtime fits any image to one.

Core ML runs a flexible-shape model on the Neural Engine only for shapes declared up front with
EnumeratedShapes; with RangeDim only the default shape gets there (Apple developer forum 724930,
coremltools #2370). So the encoder and decoder are exported with this fixed list (Core ML allows up
to 128), and the runtime edge-pads an image up to the smallest listed shape that holds it, then
crops the code (encoder) or the picture (decoder) back. Edge padding only touches the bottom and
right borders, so the top-left code cells are unaffected except within the receptive field of the
border.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from compact.config import STRIDE
from compact.errors import ImageError

_SIDES = (256, 512, 768, 1024, 1536, 2048)
#: (height, width) of padded images, in pixels; every one is a multiple of the stride.
IMAGE_SHAPES: tuple[tuple[int, int], ...] = tuple(
    sorted({(h, w) for h in _SIDES for w in _SIDES} | {(720, 1280), (1280, 720), (1088, 1920), (1920, 1088)})
)
DEFAULT_SHAPE = (512, 768)


def latent_shapes() -> tuple[tuple[int, int], ...]:
    return tuple((h // STRIDE, w // STRIDE) for h, w in IMAGE_SHAPES)


def fit_shape(height: int, width: int, shapes: tuple[tuple[int, int], ...] = IMAGE_SHAPES) -> tuple[int, int] | None:
    """Smallest listed (h, w) by area that contains (height, width), or None if none does."""
    fitting = [s for s in shapes if s[0] >= height and s[1] >= width]
    return min(fitting, key=lambda s: (s[0] * s[1], s)) if fitting else None


def pad_to(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Edge-pad an NCHW array at the bottom and right to (height, width)."""
    return np.pad(x, ((0, 0), (0, 0), (0, height - x.shape[2]), (0, width - x.shape[3])), mode="edge")


Predict = Callable[[np.ndarray], np.ndarray]


def encode_fitted(image: np.ndarray, predict: Predict) -> np.ndarray:
    """Run an encoder that accepts only IMAGE_SHAPES: pad the image up to one, crop the code back."""
    h, w = image.shape[2:]
    shape = fit_shape(h, w)
    if shape is None:
        raise ImageError(f"{w}x{h} is larger than every Core ML shape (largest {max(IMAGE_SHAPES)}, HxW)")
    return np.asarray(predict(pad_to(image, *shape)), dtype=np.float32)[:, :, : h // STRIDE, : w // STRIDE]


def decode_fitted(symbols: np.ndarray, predict: Predict) -> np.ndarray:
    """Run a decoder that accepts only the latent shapes: pad the code up to one, crop the picture back."""
    h, w = symbols.shape[2:]
    shape = fit_shape(h, w, latent_shapes())
    if shape is None:
        raise ImageError(f"a {w}x{h} code is larger than every Core ML shape")
    return np.asarray(predict(pad_to(symbols, *shape)), dtype=np.float32)[:, :, : h * STRIDE, : w * STRIDE]
