"""Binarization and bit packing, in numpy, outside the model graphs.

Bit order (format version 1): the code tensor of shape (C, h, w) is flattened in C order
(channel-major, then rows, then columns); +1 is stored as bit 1 and -1 as bit 0; bits fill each byte
from the most significant bit down; the last byte is zero-padded.
"""

from __future__ import annotations

import numpy as np

from compact.errors import FormatError


def binarize(latent: np.ndarray) -> np.ndarray:
    """Sign of the tanh latent as uint8 bits: 1 where latent >= 0 (so never a zero symbol)."""
    return (latent >= 0).astype(np.uint8)


def latent_to_symbols(latent: np.ndarray) -> np.ndarray:
    """The tanh latent -> the decoder's ±1 float32 input (sign binarization, as :func:`binarize`)."""
    return bits_to_symbols(binarize(latent))


def bits_to_symbols(bits: np.ndarray) -> np.ndarray:
    """{0, 1} bits -> {-1.0, +1.0} float32, the decoder's input."""
    return bits.astype(np.float32) * 2.0 - 1.0


def packed_size(shape: tuple[int, ...]) -> int:
    return (int(np.prod(shape)) + 7) // 8


def pack(bits: np.ndarray) -> bytes:
    return np.packbits(bits.reshape(-1), bitorder="big").tobytes()


def unpack(payload: bytes, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape))
    if len(payload) != packed_size(shape):
        raise FormatError(f"payload has {len(payload)} bytes, {packed_size(shape)} expected for latent {shape}")
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), count=count, bitorder="big")
    return bits.reshape(shape)
