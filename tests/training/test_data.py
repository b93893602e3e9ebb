"""The crop sampler, and its synthetic flat-colour and gradient crops."""

import numpy as np
import pytest

pytest.importorskip("torch")

from conftest import natural_image  # noqa: E402

from compact.training.data import CropSampler, ImageSet  # noqa: E402


def _sampler(flat_fraction: float, seed: int = 0) -> CropSampler:
    images = ImageSet([], [natural_image(96, 128, seed=s) for s in range(3)])
    return CropSampler(images, 32, np.random.default_rng(seed), flat_fraction)


def _is_smooth(crop: np.ndarray) -> bool:
    """Flat, or a gradient: neighbouring pixels differ by at most 2 levels (photos here differ far more)."""
    pixels = np.rint(crop * 255).astype(int)
    return max(np.abs(np.diff(pixels, axis=1)).max(), np.abs(np.diff(pixels, axis=2)).max()) <= 2


def test_a_share_of_crops_is_flat_colour_or_gradient():
    batch = _sampler(0.25).batch(400)
    assert batch.shape == (400, 3, 32, 32) and batch.dtype == np.float32
    smooth = [_is_smooth(crop) for crop in batch]
    assert 70 <= sum(smooth) <= 130  # 25 % of 400, give or take
    flat = [crop for crop, s in zip(batch, smooth, strict=True) if s and np.ptp(crop, axis=(1, 2)).max() == 0]
    assert 25 <= len(flat) <= 75  # half of them flat
    colours = np.array([crop[:, 0, 0] for crop in flat])
    assert colours.min() < 0.2 and colours.max() > 0.8  # colours across the RGB cube


def test_without_it_no_crop_is_synthetic_and_no_extra_number_is_drawn():
    """Negative control for the count above; and a run without it draws exactly the numbers it drew before
    the option existed (one image choice per batch, then top, left and flip per crop), so resumed runs replay."""
    sampler = _sampler(0.0)
    batch = sampler.batch(200)
    assert not any(_is_smooth(crop) for crop in batch)
    rng = np.random.default_rng(0)
    for _ in rng.choice(3, size=200, p=sampler.weights):
        rng.integers(0, 96 - 32 + 1), rng.integers(0, 128 - 32 + 1), rng.random()
    assert sampler.rng.bit_generator.state == rng.bit_generator.state
