"""Parity of a runtime against the torch reference: the numbers behind ``compact parity`` and the tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compact.image import to_model_input
from compact.metrics import psnr
from compact.runtimes.base import Backend


@dataclass(frozen=True)
class Bounds:
    """Acceptance bounds: decoder PSNR vs torch (peak 1.0, same bits) and fraction of flipped code bits."""

    min_decoder_psnr: float
    max_flipped: float


BOUNDS = {"fp32": Bounds(60.0, 1e-4), "fp16": Bounds(40.0, 1e-3), "int8": Bounds(40.0, 1e-4)}


@dataclass(frozen=True)
class ParityRow:
    image: str
    backend: str
    precision: str
    latent_max_abs_diff: float
    flipped_bits: int
    total_bits: int
    decoder_psnr: float

    @property
    def flipped_fraction(self) -> float:
        return self.flipped_bits / self.total_bits

    @property
    def ok(self) -> bool:
        bounds = BOUNDS[self.precision]
        return self.decoder_psnr >= bounds.min_decoder_psnr and self.flipped_fraction <= bounds.max_flipped


def compare(reference: Backend, candidate: Backend, rgb: np.ndarray, image: str = "", precision: str = "fp32",
            name: str | None = None) -> ParityRow:  # fmt: skip
    """Encode with both; decode the reference's bits with both, so the decoder is judged on equal input."""
    x = to_model_input(rgb)
    lat_ref, lat_new = reference.encode(x), candidate.encode(x)
    bits = np.where(lat_ref >= 0, 1.0, -1.0).astype(np.float32)
    return ParityRow(
        image=image,
        backend=name or candidate.name,
        precision=precision,
        latent_max_abs_diff=float(np.abs(lat_ref - lat_new).max()),
        flipped_bits=int(np.count_nonzero((lat_ref >= 0) != (lat_new >= 0))),
        total_bits=int(lat_ref.size),
        decoder_psnr=psnr(reference.decode(bits), candidate.decode(bits), peak=1.0),
    )
