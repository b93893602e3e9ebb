"""The decode-side grid filter: it removes what repeats every code cell in smooth areas, and nothing else."""

import numpy as np
import pytest
from conftest import natural_image, random_image

from compact import degrid
from compact.evaluation.grid import PERIODS, grid_scores, smooth_picture

BOUND = 3.0  # issue 13's grid bound


def _sixteenths(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.uint16) * 16


def _rounded(fine: np.ndarray) -> np.ndarray:
    """What a reader without the filter shows: whole levels."""
    return np.clip(np.rint(fine / 16), 0, 255).astype(np.uint8)


def _gridded(img: np.ndarray, sixteenths: int = 6) -> np.ndarray:
    """``img`` in sixteenths of a level plus a sub-level pattern of periods 4, 8 and 16 px, as the decoder's."""
    y, x = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    pattern = sum(np.cos(2 * np.pi * x / p) + np.cos(2 * np.pi * y / p) for p in PERIODS)
    return np.clip(_sixteenths(img) + np.rint(sixteenths * pattern)[..., None], 0, 4080).astype(np.uint16)


def test_a_sub_level_grid_on_a_smooth_picture_is_removed():
    img = smooth_picture(seed=1)
    fine = _gridded(img)
    assert max(grid_scores(img, _rounded(fine)).values()) > 10 * BOUND  # the control: there is a grid
    assert max(grid_scores(img, degrid.degrid(fine)).values()) <= 1.5
    assert np.abs(degrid.degrid(fine).astype(int) - img).max() <= 1  # and nothing else changed


def test_flat_and_smooth_pictures_without_a_grid_keep_their_pixels():
    flat = np.full((70, 90, 3), (200, 30, 40), np.uint8)
    assert np.array_equal(degrid.degrid(_sixteenths(flat)), flat)
    y, x = np.mgrid[0:120, 0:150]
    ramp = np.stack([x, y, (x + y) // 2], axis=2).astype(np.uint8)
    assert np.abs(degrid.degrid(_sixteenths(ramp)).astype(int) - ramp).max() <= 1


def test_texture_is_left_alone_even_when_it_repeats_every_cell():
    noise = random_image(96, 130, seed=3)
    assert np.array_equal(degrid.degrid(_sixteenths(noise)), noise)
    # a photo's own stripes of period 16, strong enough to be seen: texture, not a grid
    _, x = np.mgrid[0:96, 0:128]
    stripes = np.clip(natural_image(96, 128, seed=4) + (x % 16 < 8)[..., None] * 40, 0, 255).astype(np.uint8)
    assert np.array_equal(degrid.degrid(_sixteenths(stripes)), stripes)
    # the control: a faint stripe pattern on a smooth picture is what the filter takes out
    faint = _gridded(smooth_picture(128, seed=2), 3)
    assert not np.array_equal(degrid.degrid(faint), _rounded(faint))


def test_a_strong_regular_pattern_on_a_flat_background_is_the_pictures_own():
    """Once its pattern is taken out a checkerboard is flat, so roughness alone would erase it: the filter also
    leaves alone any pattern stronger than a grid (RMS 4 levels), and removes the same pattern when faint."""
    y, x = np.mgrid[0:112, 0:144]
    squares = ((x // 8) + (y // 8)) % 2  # 8 px squares: period 16, a code cell
    board = np.where(squares[..., None], (200, 200, 200), (60, 90, 120)).astype(np.uint8)
    assert np.array_equal(degrid.degrid(_sixteenths(board)), board)
    faint = (1920 + 12 * (2 * squares - 1))[..., None].repeat(3, axis=2).astype(np.uint16)  # +-0.75 levels
    assert set(np.unique(_rounded(faint))) == {119, 121}  # the control: rounded, the pattern shows ...
    assert set(np.unique(degrid.degrid(faint)[32:-32, 32:-32])) == {120}  # ... the filter takes it out (the
    # edges, which repeat their last pixels, are not periodic: it does less there)


def test_bands_give_the_whole_pictures_result(monkeypatch):
    fine = _gridded(natural_image(150, 97, seed=5))
    whole = degrid.degrid(fine)
    monkeypatch.setattr(degrid, "BAND", 16)
    assert np.array_equal(degrid.degrid(fine), whole)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (3, 2), (33, 1)])
def test_tiny_pictures(shape):
    flat = np.full((*shape, 3), (12, 250, 99), np.uint8)
    assert np.array_equal(degrid.degrid(_sixteenths(flat)), flat)
    fine = np.random.default_rng(6).integers(0, 4081, (*shape, 3)).astype(np.uint16)
    assert degrid.degrid(fine).shape == (*shape, 3)


def test_the_codec_filters_only_when_the_models_manifest_asks():
    from compact.codec import Codec

    img = smooth_picture(128)
    codec, raw = Codec("default", "onnx"), Codec("default", "onnx", degrid=False)
    stream = codec.compress(img)
    assert codec.bundle.manifest.degrid
    assert not np.array_equal(codec.decompress_array(stream), raw.decompress_array(stream))
    earlier = Codec("9fd48a1b4c06c714", "onnx")  # written before the filter: decodes as it always did
    old = earlier.compress(img)
    assert not earlier.bundle.manifest.degrid
    assert np.array_equal(earlier.decompress_array(old), Codec("9fd48a1b4c06c714", "onnx", degrid=False)
                          .decompress_array(old))  # fmt: skip
