"""Model-tensor geometry: how an image of any size maps onto the networks' grid, and back.

The encoder shrinks by ``STRIDE`` (16), so the networks see images whose sides are multiples of 16: an image
is edge-padded on the bottom and right (replicate padding works down to 1x1, reflect padding does not) and
the decoded image is cropped back. The container, the tiled path and every runtime use these functions.
"""

from __future__ import annotations

import numpy as np

from compact.config import STRIDE
from compact.errors import ImageError


def latent_size(height: int, width: int) -> tuple[int, int]:
    """Latent grid (h, w) of an image: ceil(side / STRIDE) cells per side."""
    return -(-height // STRIDE), -(-width // STRIDE)


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The image size the networks see: each side rounded up to a multiple of STRIDE."""
    h, w = latent_size(height, width)
    return h * STRIDE, w * STRIDE


def edge_rows(rgb: np.ndarray, start: int, stop: int, axis: int) -> np.ndarray:
    """Pixels [start, stop) along ``axis``, repeating the last row/column past the image (edge padding)."""
    index = np.minimum(np.arange(start, stop), rgb.shape[axis] - 1)
    return np.take(rgb, index, axis=axis)


def to_tensor(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> (1, 3, H, W) float32 in [0, 1], no padding."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)


def to_pixels(x: np.ndarray) -> np.ndarray:
    """(3, H, W) float in ~[0, 1] -> HxWx3 uint8 (rounded, clipped)."""
    return np.clip(np.rint(x.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def to_sixteenths(x: np.ndarray) -> np.ndarray:
    """(3, H, W) float in ~[0, 1] -> HxWx3 uint16 in sixteenths of a level (0..4080), for compact.degrid."""
    return np.clip(np.rint(x.transpose(1, 2, 0) * (255.0 * 16)), 0, 4080).astype(np.uint16)


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> (1, 3, H', W') float32 in [0, 1], edge-padded to multiples of the stride."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise ImageError(f"expected an HxWx3 uint8 image, got {rgb.dtype} array of shape {rgb.shape}")
    hp, wp = padded_size(*rgb.shape[:2])
    return to_tensor(edge_rows(edge_rows(rgb, 0, hp, axis=0), 0, wp, axis=1))


def from_model_output(x: np.ndarray, width: int, height: int) -> np.ndarray:
    """(1, 3, H', W') float in ~[0, 1] -> HxWx3 uint8 cropped to the original size."""
    return to_pixels(x[0, :, :height, :width])
