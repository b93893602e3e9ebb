"""The grid score: 1 when a codec adds no periodic pattern, large when it does (issue 13's bound is 3)."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from compact.evaluation.grid import PERIODS, grid_scores, smooth_picture

BOUND = 3.0


def _with_grid(img: np.ndarray, period: int, amplitude: int = 4) -> np.ndarray:
    y, x = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    lines = np.where((x % period == 0) | (y % period == 0), amplitude, 0)
    return np.clip(img.astype(int) + lines[..., None], 0, 255).astype(np.uint8)


def test_blur_noise_and_identity_add_no_grid():
    img = smooth_picture()
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    blurred = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(2)))
    for other in (img, noisy, blurred):
        assert all(score <= BOUND for score in grid_scores(img, other).values())
    assert grid_scores(img, img) == {p: 1.0 for p in PERIODS}


@pytest.mark.parametrize("period", PERIODS)
def test_a_faint_grid_fails_the_bound_at_its_period(period):
    img = smooth_picture(seed=1)
    assert grid_scores(img, _with_grid(img, period))[period] > 10 * BOUND  # the negative control


def test_the_shipped_model_adds_no_grid():
    """Through the reader, which runs the decode-side grid filter (compact/degrid.py) the model's manifest asks
    for; the networks' own picture is the control, and fails."""
    assert _worst_grid("default") <= BOUND
    assert _worst_grid("default", degrid=False) > 2 * BOUND


@pytest.mark.parametrize("seed", range(1, 7))
def test_other_smooth_pictures_come_back_without_a_grid(seed):
    """The test picture is one of many: other seeds and sizes of it, whose grids through the networks alone
    reach 43x, stay under the bound too (worst measured 2.04x)."""
    from compact.codec import Codec

    codec = Codec("default", "onnx")
    for size in (256, 384):
        img = smooth_picture(size, seed)
        for q in range(1, codec.qualities + 1):
            assert max(grid_scores(img, codec.decompress_array(codec.compress(img, quality=q))).values()) <= BOUND


#: what the decoder-only last phase reached in the networks' own picture (worst 6.8x, then 7.3x for the
#: current default): a model that brings the grid back fails
SHIPPED_BOUND = 8.0


def _worst_grid(model: str, degrid: bool = True) -> float:
    from compact.codec import Codec

    codec = Codec(model, "onnx", degrid=degrid)
    img = smooth_picture()
    return max(max(grid_scores(img, codec.decompress_array(codec.compress(img, quality=q))).values())
               for q in range(1, codec.qualities + 1))  # fmt: skip


def test_the_networks_own_grid_stays_where_the_decoder_only_phase_left_it():
    """The filter is no reason to let the networks draw a worse grid: their own picture, without it."""
    assert _worst_grid("default", degrid=False) <= SHIPPED_BOUND
    assert _worst_grid("9fd48a1b4c06c714", degrid=False) > 3 * SHIPPED_BOUND  # control: an earlier default
