"""Tiled encoding and decoding: bounded memory for large images, no seams.

Each tile's core is computed from the core plus a halo of real neighbouring pixels (encoder) or code cells
(decoder), and only the core is kept, so every output sees nearly the context it would see in one pass.
Tiles never reach past the image: at the image's borders a tile ends where the image ends, so border
behaviour (the networks' own zero padding) is the same as for the whole image. Only one tile's floats
are alive at a time; inputs and outputs stay uint8 / bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from compact.config import STRIDE, ModelConfig
from compact.geometry import edge_rows, latent_size, padded_size, to_pixels, to_tensor

Array = np.ndarray


#: code cells of context per side that the encoder needs: its receptive field reaches 62 px
ENCODER_HALO = 4


def halo_cells(config: ModelConfig) -> int:
    """The halo, in code cells, that makes tiles exact for this model: the decoder's reach, rounded up, or the
    encoder's, whichever is larger.

    Each 3x3 convolution of the decoder reaches one sample of its own resolution: three at 1/16 (one cell
    each), then one each at 1/8, 1/4 and 1/2 (3.875 cells). The binomial filters of ``smooth_upsampling``
    add one sample at 1/8, 1/4 and 1/2 (4.75 cells, so 5).
    """
    reach = 3 + 1 / 2 + 1 / 4 + 1 / 8
    if config.smooth_upsampling:
        reach += 1 / 2 + 1 / 4 + 1 / 8
    return max(ENCODER_HALO, math.ceil(reach))


@dataclass(frozen=True)
class TileGrid:
    """Tiling of a (h, w) latent grid: cores of ``core`` cells, inputs grown by ``halo`` cells per side."""

    core: int = 64  # 1024 px: the halo adds 27% work per tile (it would add 56% at 512 px)
    halo: int = ENCODER_HALO  # 64 px: the default model's (halo_cells); a codec sets its model's

    @classmethod
    def for_model(cls, config: ModelConfig) -> TileGrid:
        """The default cores with the halo this model needs."""
        return cls(halo=halo_cells(config))

    def spans(self, size: int) -> Iterator[tuple[int, int, int, int]]:
        """(core start, core end, input start, input end) along one axis, in cells."""
        for start in range(0, size, self.core):
            end = min(start + self.core, size)
            yield start, end, max(0, start - self.halo), min(size, end + self.halo)


def encode_tiled(rgb: Array, encode: Callable[[Array], Array], channels: int, grid: TileGrid) -> Array:
    """HxWx3 uint8 -> (1, C, h, w) latent, one tile at a time."""
    h, w = latent_size(*rgb.shape[:2])
    latent = np.empty((1, channels, h, w), dtype=np.float32)
    for r0, r1, i0, i1 in grid.spans(h):
        band = edge_rows(rgb, i0 * STRIDE, i1 * STRIDE, axis=0)
        for c0, c1, j0, j1 in grid.spans(w):
            out = encode(to_tensor(edge_rows(band, j0 * STRIDE, j1 * STRIDE, axis=1)))
            latent[:, :, r0:r1, c0:c1] = out[:, :, r0 - i0 : r1 - i0, c0 - j0 : c1 - j0]
    return latent


def decode_tiled(symbols: Array, decode: Callable[[Array], Array], width: int, height: int, grid: TileGrid,
                 pixels: Callable[[Array], Array] = to_pixels) -> Array:  # fmt: skip
    """(1, C, h, w) ±1 code -> HxWx3 uint8 (or what ``pixels`` makes of the (3, h, w) floats, e.g.
    ``geometry.to_sixteenths``), cropped to (height, width), one tile at a time."""
    _, _, h, w = symbols.shape
    rgb = np.empty((height, width, 3), dtype=pixels(np.zeros((3, 1, 1), np.float32)).dtype)
    for r0, r1, i0, i1 in grid.spans(h):
        for c0, c1, j0, j1 in grid.spans(w):
            out = decode(np.ascontiguousarray(symbols[:, :, i0:i1, j0:j1]))
            core = out[0, :, (r0 - i0) * STRIDE : (r1 - i0) * STRIDE, (c0 - j0) * STRIDE : (c1 - j0) * STRIDE]
            y0, x0 = r0 * STRIDE, c0 * STRIDE
            y1, x1 = min(r1 * STRIDE, height), min(c1 * STRIDE, width)
            if y1 > y0 and x1 > x0:
                rgb[y0:y1, x0:x1] = pixels(core[:, : y1 - y0, : x1 - x0])
    return rgb


#: Images up to this many (padded) pixels, and no side over MAX_WHOLE_SIDE, go through the networks whole.
WHOLE_IMAGE_PIXELS = 4_194_304
MAX_WHOLE_SIDE = 2048  # the largest Core ML shape side


def needs_tiling(height: int, width: int) -> bool:
    hp, wp = padded_size(height, width)
    return hp * wp > WHOLE_IMAGE_PIXELS or max(hp, wp) > MAX_WHOLE_SIDE
