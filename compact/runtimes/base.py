"""The protocol every runtime backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """Runs the two exported halves; binarization and bit packing stay outside, in numpy.

    ``encode``: (1, 3, H, W) float32 in [0, 1], H and W multiples of 16 -> (1, C, H/16, W/16) tanh latent.
    ``decode``: (1, C, h, w) float32 of ±1 -> (1, 3, 16h, 16w) float32, nominally in [0, 1].
    """

    name: str
    #: the arithmetic its graphs run in: "fp32", "fp16" or "int8" (parity picks its bounds by it)
    precision: str

    def encode(self, image: np.ndarray) -> np.ndarray: ...

    def decode(self, symbols: np.ndarray) -> np.ndarray: ...
