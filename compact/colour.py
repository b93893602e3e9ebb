"""A per-image colour correction: fitted by the writer, carried in 15 bytes, applied by every reader.

The decoder network's colours drift from the original's: a cast over a whole photo, and on images with
little structure (a flat colour, a tiny image that is all border) a colour tens of levels off. The
writer can see this, since it can run the decoder, so it fits a 3x3 colour matrix and an offset that
map the decoded pixels onto the original's by least squares, and stores them in the stream (the idea of
the adaptive loop filter of H.266/VVC, whose encoder also fits a filter and sends it). A flat image then
decodes to its own colour however the networks render it, and photos gain 0.1-1 dB (docs/FORMAT.md).

Readers apply it in integer arithmetic, so every platform (numpy, the browser) gets the same pixels:

    out[c] = clip((128 * x[c] + sum_j D[c][j] * (x[j] - 128) + o[c] + 64) >> 7, 0, 255)

with ``x`` the decoded 8-bit pixel, ``D`` nine int8 (units of 1/128) and ``o`` three int16 (units of
1/128 level).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from compact.errors import FormatError

SCALE = 128  # D and o are in units of 1/SCALE
_BLOCK = struct.Struct(">9b3h")
BLOCK_SIZE = _BLOCK.size  # 15 bytes
#: pulls the matrix towards "no change" (relative to the decoded colours' own spread), so that where few
#: pixels or nearly equal channels cannot pin it down (a 1x1 image, a grey one) it stays small
RIDGE = 1e-4


#: pixels per pass: fitting and applying hold a few float64 / int32 copies of this many pixels at a time
CHUNK = 1 << 20


def _chunks(rgb: np.ndarray) -> list[np.ndarray]:
    flat = rgb.reshape(-1, 3)
    return [flat[i : i + CHUNK] for i in range(0, len(flat), CHUNK)]


@dataclass(frozen=True)
class ColourCorrection:
    matrix: tuple[int, ...]  # D, 9 int8, row-major: output channel, then input channel
    offset: tuple[int, ...]  # o, 3 int16

    def to_bytes(self) -> bytes:
        return _BLOCK.pack(*self.matrix, *self.offset)

    @classmethod
    def from_bytes(cls, block: bytes) -> ColourCorrection:
        if len(block) != BLOCK_SIZE:
            raise FormatError(f"colour block is {len(block)} bytes, expected {BLOCK_SIZE}")
        values = _BLOCK.unpack(block)
        return cls(tuple(values[:9]), tuple(values[9:]))

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Decoded HxWx3 uint8 -> corrected HxWx3 uint8 (the formula above, exactly)."""
        d = np.asarray(self.matrix, np.int32).reshape(3, 3).T
        offset = np.asarray(self.offset, np.int32) + SCALE // 2
        out = np.empty(rgb.shape, np.uint8)  # C order, so its chunks are views (a transposed input's are not)
        for src, dst in zip(_chunks(rgb), _chunks(out), strict=True):
            x = src.astype(np.int32)
            dst[:] = np.clip((SCALE * x + (x - 128) @ d + offset) >> 7, 0, 255)
        return out


def fit(decoded: np.ndarray, original: np.ndarray) -> ColourCorrection | None:
    """The correction that brings ``decoded`` closest to ``original`` (both HxWx3 uint8) in squared error,
    or None when none lowers it (the stream then carries no block)."""
    # residual = D (x - 128) / SCALE + o / SCALE: least squares for D itself and o / SCALE
    gram, moment, pixels = np.zeros((4, 4)), np.zeros((4, 3)), decoded.shape[0] * decoded.shape[1]
    for x, target in zip(_chunks(decoded), _chunks(original), strict=True):
        features = np.concatenate([(x - 128.0) / SCALE, np.ones((len(x), 1))], axis=1)
        gram += features.T @ features
        moment += features.T @ (target - x.astype(np.float64))
    gram[:3, :3] += (RIDGE * np.trace(gram[:3, :3]) / 3 + 1e-9 * pixels) * np.eye(3)
    solution = np.linalg.solve(gram, moment)  # (4, 3): D transposed, then o / SCALE
    matrix = np.clip(np.rint(solution[:3].T), -128, 127).astype(np.int64)
    # with the matrix rounded, the best offset is the mean of what is left
    left = sum(np.sum(SCALE * (t - x.astype(np.float64)) - (x - 128.0) @ matrix.T, axis=0)
               for x, t in zip(_chunks(decoded), _chunks(original), strict=True))  # fmt: skip
    offset = np.clip(np.rint(left / pixels), -32768, 32767).astype(np.int64)
    correction = ColourCorrection(tuple(int(v) for v in matrix.ravel()), tuple(int(v) for v in offset))
    better = _squared_error(correction.apply(decoded), original) < _squared_error(decoded, original)
    return correction if better else None


def _squared_error(a: np.ndarray, b: np.ndarray) -> int:
    return sum(int(np.sum((x.astype(np.int64) - y) ** 2)) for x, y in zip(_chunks(a), _chunks(b), strict=True))
