"""The image shapes the Core ML models are exported for, and how the runtime fits any image into one.

Core ML runs a flexible-shape model on the Neural Engine only for shapes declared up front with
EnumeratedShapes; with RangeDim only the default shape gets there (Apple developer forum 724930,
coremltools #2370). So the encoder and decoder are exported with a fixed list (Core ML allows up to 128,
recorded in the model's manifest), and the runtime pads an image up to the smallest listed shape that holds
it, then crops the code (encoder) or the picture (decoder) back.

The padding holds values no image has (negative pixels, 0 code cells) and the exported graphs
(compact/export/valid_region.py) mask it out before every convolution, so the cells and pixels kept are
those every other runtime computes at the image's own size: one geometry for all runtimes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from compact.config import STRIDE
from compact.errors import ImageError, ModelError

_SIDES = (256, 512, 768, 1024, 1536, 2048)
#: (height, width) of padded images, in pixels, that ``compact export`` lists; every one a multiple of the stride.
IMAGE_SHAPES: tuple[tuple[int, int], ...] = tuple(
    sorted({(h, w) for h in _SIDES for w in _SIDES} | {(720, 1280), (1280, 720), (1088, 1920), (1920, 1088)})
)
DEFAULT_SHAPE = (512, 768)
#: the manifest's name for graphs that mask what lies outside the image (exports before it padded with edges)
BORDER = "valid-region"
#: written outside the image; the graphs read "negative pixel" and "0 code cell" as "no image here"
OUTSIDE_PIXEL = -1.0
OUTSIDE_CODE = 0.0

Predict = Callable[[np.ndarray], np.ndarray]


def fit_shape(height: int, width: int, shapes: tuple[tuple[int, int], ...] = IMAGE_SHAPES) -> tuple[int, int] | None:
    """Smallest listed (h, w) by area that contains (height, width), or None if none does."""
    fitting = [s for s in shapes if s[0] >= height and s[1] >= width]
    return min(fitting, key=lambda s: (s[0] * s[1], s)) if fitting else None


def pad_to(x: np.ndarray, height: int, width: int, value: float) -> np.ndarray:
    """Pad an NCHW array at the bottom and right to (height, width) with ``value``."""
    pad = ((0, 0), (0, 0), (0, height - x.shape[2]), (0, width - x.shape[3]))
    return np.pad(x, pad, mode="constant", constant_values=value)


def _parse(shape: object) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in str(shape).split("x"))
    except ValueError:
        raise ModelError(f"bad Core ML shape {shape!r} in the manifest (expected HxW)") from None
    if h <= 0 or w <= 0 or h % STRIDE or w % STRIDE:
        raise ModelError(f"Core ML shape {shape!r} in the manifest is not a positive multiple of {STRIDE}")
    return h, w


@dataclass(frozen=True)
class ShapeFit:
    """Runs Core ML predictors that accept only ``image_shapes`` on images of any size up to the largest."""

    image_shapes: tuple[tuple[int, int], ...]

    @classmethod
    def from_manifest(cls, coreml: dict[str, object]) -> ShapeFit:
        """The shapes a model was exported with; refuses exports whose graphs cannot mask the padding."""
        if coreml.get("border") != BORDER:
            raise ModelError("this Core ML export pads with edge pixels and gives other borders than every other "
                             "runtime; export it again with this version (compact export --target coreml)")  # fmt: skip
        listed = coreml.get("image_shapes_hxw")
        if not isinstance(listed, list) or not listed:
            raise ModelError("the manifest lists no Core ML image shapes (coreml.image_shapes_hxw)")
        return cls(tuple(_parse(s) for s in listed))

    @property
    def latent_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple((h // STRIDE, w // STRIDE) for h, w in self.image_shapes)

    def encode(self, image: np.ndarray, predict: Predict) -> np.ndarray:
        """(1, 3, H, W) image -> its (1, C, H/16, W/16) latent, through a listed shape."""
        return _fitted(image, self.image_shapes, OUTSIDE_PIXEL, predict, 1 / STRIDE, "image")

    def decode(self, symbols: np.ndarray, predict: Predict) -> np.ndarray:
        """(1, C, h, w) ±1 code -> its (1, 3, 16h, 16w) picture, through a listed shape."""
        return _fitted(symbols, self.latent_shapes, OUTSIDE_CODE, predict, STRIDE, "code")


def _fitted(x: np.ndarray, shapes: tuple[tuple[int, int], ...], outside: float, predict: Predict, scale: float,
            what: str) -> np.ndarray:  # fmt: skip
    """Pad ``x`` with ``outside`` to the smallest listed shape, predict, crop the output (``scale`` x the input)."""
    h, w = x.shape[2:]
    shape = fit_shape(h, w, shapes)
    if shape is None:
        raise ImageError(f"a {w}x{h} {what} is larger than every Core ML shape (largest {max(shapes)}, HxW)")
    out = np.asarray(predict(pad_to(x, *shape, outside)), dtype=np.float32)
    return out[:, :, : round(h * scale), : round(w * scale)]
