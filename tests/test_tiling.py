"""Tiled coding of large images: same bits as one pass, and no seams in the decoded picture."""

import numpy as np
import pytest
from conftest import natural_image

from compact.bits import binarize, bits_to_symbols
from compact.codec import Codec
from compact.config import STRIDE
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


def test_tiled_encoding_gives_the_same_bits(backend, image):
    whole = backend.encode(to_model_input(image))
    tiled = encode_tiled(image, backend.encode, whole.shape[1], GRID)
    assert tiled.shape == whole.shape
    assert np.mean((whole >= 0) != (tiled >= 0)) <= 1e-4
    assert np.abs(whole - tiled).max() < 1e-3


def test_tiled_decoding_has_no_seams(backend, image):
    h, w = image.shape[:2]
    symbols = bits_to_symbols(binarize(backend.encode(to_model_input(image))[0]))[None]
    whole = from_model_output(backend.decode(symbols), w, h)
    tiled = decode_tiled(symbols, backend.decode, w, h, GRID)
    assert psnr(whole, tiled) >= 45.0
    # the pixels next to every tile border, where a seam would show
    seams = np.zeros((h, w), bool)
    for k in range(GRID.core * STRIDE, max(h, w), GRID.core * STRIDE):
        seams[max(0, k - 4) : k + 4, :] = True
        seams[:, max(0, k - 4) : k + 4] = True
    assert psnr(whole[seams], tiled[seams]) >= 45.0


def test_a_short_halo_would_show(backend, image):
    """The check above can fail: with too little context the tiles disagree at their borders."""
    h, w = image.shape[:2]
    symbols = bits_to_symbols(binarize(backend.encode(to_model_input(image))[0]))[None]
    whole = from_model_output(backend.decode(symbols), w, h)
    assert psnr(whole, decode_tiled(symbols, backend.decode, w, h, TileGrid(core=6, halo=1))) < 45.0


def test_codec_tiles_large_images():
    assert not needs_tiling(512, 768) and not needs_tiling(2048, 2048)
    assert needs_tiling(2049, 100) and needs_tiling(3000, 3000) and needs_tiling(100, 2100)
    codec = Codec("default", "onnx")
    tall = natural_image(2100, 40, seed=81)  # taller than any whole-image Core ML shape: tiled
    out = codec.decompress_array(codec.compress(tall))
    assert out.shape == tall.shape and psnr(tall, out) > 10
