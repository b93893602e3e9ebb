"""Parity of a runtime against the torch reference: the numbers behind ``compact parity`` and the tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from compact.bits import latent_to_symbols
from compact.codec import ImageLike, as_rgb
from compact.errors import ConfigError
from compact.geometry import to_model_input
from compact.manifest import ModelBundle, resolve_model
from compact.metrics import psnr
from compact.runtimes import BACKENDS, get_backend, unavailable_reason
from compact.runtimes.base import Backend
from compact.tiling import TileGrid, decode_tiled, encode_tiled, needs_tiling

#: the reference every other runtime is compared with
REFERENCE = "torch"


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


def _encode(backend: Backend, rgb: np.ndarray, channels: int, grid: TileGrid) -> np.ndarray:
    """The latent as the codec computes it: whole, or in tiles for images too large for one pass."""
    if needs_tiling(*rgb.shape[:2]):
        return encode_tiled(rgb, backend.encode, channels, grid)
    return backend.encode(to_model_input(rgb))


def _decode(backend: Backend, symbols: np.ndarray, height: int, width: int, grid: TileGrid) -> np.ndarray:
    """The decoded picture in [0, 1]: whole (float, before rounding), or tiled (the codec's 8-bit output)."""
    if needs_tiling(height, width):
        return decode_tiled(symbols, backend.decode, width, height, grid).astype(np.float32) / np.float32(255)
    return backend.decode(symbols)


def compare(reference: Backend, candidate: Backend, rgb: np.ndarray, image: str = "", precision: str = "fp32",
            name: str | None = None, channels: int | None = None,
            grid: TileGrid | None = None) -> ParityRow:  # fmt: skip
    """Encode with both; decode the reference's bits with both, so the decoder is judged on equal input.
    Images too large for one pass go through the codec's tiles in both runtimes alike (``channels``: the
    model's code planes, needed for those; ``grid``: the model's tiles, TileGrid.for_model, default halo
    if not given)."""
    grid = grid or TileGrid()
    height, width = rgb.shape[:2]
    if needs_tiling(height, width) and channels is None:
        raise ConfigError(f"comparing a {width}x{height} image goes through tiles: pass the model's channels")
    lat_ref, lat_new = _encode(reference, rgb, channels or 0, grid), _encode(candidate, rgb, channels or 0, grid)
    bits = latent_to_symbols(lat_ref)
    return ParityRow(
        image=image,
        backend=name or candidate.name,
        precision=precision,
        latent_max_abs_diff=float(np.abs(lat_ref - lat_new).max()),
        flipped_bits=int(np.count_nonzero((lat_ref >= 0) != (lat_new >= 0))),
        total_bits=int(lat_ref.size),
        decoder_psnr=psnr(_decode(reference, bits, height, width, grid), _decode(candidate, bits, height, width, grid),
                          peak=1.0),
    )


@dataclass
class ParityReport:
    model_id: str
    rows: list[ParityRow]
    skipped: list[str]  # "backend: why it cannot run here"

    @property
    def failures(self) -> int:
        return sum(not row.ok for row in self.rows)


def runnable_backends(bundle: ModelBundle) -> tuple[list[Backend], list[str]]:
    """Every registered backend but the reference that can run here on this model, and why the others cannot."""
    backends, skipped = [], []
    for name in BACKENDS:
        if name == REFERENCE:
            continue
        reason = unavailable_reason(name, bundle)
        if reason is None:
            backends.append(get_backend(name, bundle))
        else:
            skipped.append(f"{name}: {reason}")
    return backends, skipped


def run_parity(images: list[tuple[str, ImageLike]], model: str | ModelBundle | None = None,
               progress: Callable[[ParityRow], None] | None = None) -> ParityReport:  # fmt: skip
    """Compare every runtime this machine can run against torch on ``images`` ((name, image) pairs)."""
    bundle = model if isinstance(model, ModelBundle) else resolve_model(model)
    reference = get_backend(REFERENCE, bundle)
    backends, skipped = runnable_backends(bundle)
    report = ParityReport(bundle.manifest.model_id, [], skipped)
    channels, grid = bundle.manifest.config.latent_channels, TileGrid.for_model(bundle.manifest.config)
    for name, image in images:
        rgb = as_rgb(image)
        for backend in backends:
            row = compare(reference, backend, rgb, name, backend.precision, channels=channels, grid=grid)
            report.rows.append(row)
            if progress is not None:
                progress(row)
    return report
