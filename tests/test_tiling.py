"""Tiled coding of large images: same bits as one pass, and no seams in the decoded picture."""

import numpy as np
import pytest
from conftest import natural_image, tiny_model_with_loose_subpixels

from compact.bits import binarize, bits_to_symbols
from compact.codec import Codec
from compact.config import STRIDE
from compact.geometry import from_model_output, to_model_input
from compact.metrics import psnr
from compact.tiling import TileGrid, decode_tiled, encode_tiled, halo_cells, needs_tiling


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


def _decoder_tile_error(smooth: bool, halo: int) -> float:
    """Largest difference between a tile's core decoded from core + halo and the same pixels decoded whole,
    relative to the picture's range, with the torch decoder itself (random weights, the sub-pixel filters
    made to disagree as training leaves them)."""
    torch = pytest.importorskip("torch")
    model = tiny_model_with_loose_subpixels(seed=7, scale=0.02, smooth=smooth)
    with torch.no_grad():
        code = torch.randint(0, 2, (1, 16, 20, 20)).float() * 2 - 1
        whole = model.decoder(code)
        r0, r1 = 8, 12  # a core in the middle, so the halo is cut from real neighbours on every side
        tile = model.decoder(code[:, :, r0 - halo : r1 + halo, r0 - halo : r1 + halo])
    core = slice(halo * STRIDE, (halo + r1 - r0) * STRIDE)
    error = tile[:, :, core, core] - whole[:, :, r0 * STRIDE : r1 * STRIDE, r0 * STRIDE : r1 * STRIDE]
    return float(error.abs().max() / (whole.amax() - whole.amin()))  # relative to the picture's range


@pytest.mark.parametrize("smooth", [False, True], ids=["plain", "smooth-upsampling"])
def test_the_models_halo_covers_its_decoder_and_one_cell_less_does_not(smooth):
    from compact.config import ModelConfig

    halo = halo_cells(ModelConfig(channels=8, latent_channels=16, smooth_upsampling=smooth))
    assert halo == (5 if smooth else 4)
    assert _decoder_tile_error(smooth, halo) < 1e-5
    assert _decoder_tile_error(smooth, halo - 1) > 1e-3  # the negative control: the reach is real


def test_a_codec_tiles_with_its_models_halo(default_bundle):
    assert Codec("default", "onnx").tiles == TileGrid.for_model(default_bundle.manifest.config) == TileGrid()
