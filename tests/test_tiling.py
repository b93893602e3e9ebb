"""Tiled coding of large images: same bits as one pass, and no seams in the decoded picture."""

import numpy as np
import pytest
from conftest import natural_image

from compact.bits import binarize, bits_to_symbols
from compact.codec import Codec
from compact.geometry import from_model_output, to_model_input
from compact.metrics import psnr
from compact.tiling import TileGrid, decode_tiled, encode_tiled, needs_tiling


@pytest.fixture(scope="module")
def backend():
    return Codec("default", "onnx").backend


@pytest.fixture(scope="module")
def image():
    return natural_image(300, 430, seed=80)  # not a multiple of 16


GRID = TileGrid(core=6, halo=4)  # small tiles so a small image has many seams


def _whole_and_tiled(backend, image, grid):
    """(latent, pixels) of one pass and of tiles, decoding the one pass's bits both ways."""
    h, w = image.shape[:2]
    latent = backend.encode(to_model_input(image))
    symbols = bits_to_symbols(binarize(latent[0]))[None]
    whole = latent, from_model_output(backend.decode(symbols), w, h)
    tiled = encode_tiled(image, backend.encode, latent.shape[1], grid), decode_tiled(symbols, backend.decode, w, h,
                                                                                       grid)  # fmt: skip
    return whole, tiled


@pytest.mark.parametrize("grid", [GRID, TileGrid()], ids=["small-tiles", "default-grid"])
def test_tiles_give_exactly_the_one_pass_result(backend, grid):
    image = natural_image(300, 430, seed=80) if grid is GRID else natural_image(1100, 1090, seed=5)
    (latent, pixels), (tiled_latent, tiled_pixels) = _whole_and_tiled(backend, image, grid)
    assert np.abs(latent - tiled_latent).max() == 0.0
    assert np.array_equal(pixels, tiled_pixels)


def test_a_halo_one_cell_short_fails_the_check(backend):
    """The negative control: a halo of 3 cells (48 px) misses part of the receptive field."""
    image = natural_image(300, 430, seed=80)
    (latent, pixels), (tiled_latent, tiled_pixels) = _whole_and_tiled(backend, image, TileGrid(core=6, halo=3))
    assert np.abs(latent - tiled_latent).max() > 0.0 and not np.array_equal(pixels, tiled_pixels)


def test_codec_tiles_large_images():
    assert not needs_tiling(512, 768) and not needs_tiling(2048, 2048)
    assert needs_tiling(2049, 100) and needs_tiling(3000, 3000) and needs_tiling(100, 2100)
    codec = Codec("default", "onnx")
    tall = natural_image(2100, 40, seed=81)  # taller than any whole-image Core ML shape: tiled
    out = codec.decompress_array(codec.compress(tall))
    assert out.shape == tall.shape and psnr(tall, out) > 10
