"""The per-image colour correction: what the writer fits, what every reader applies."""

import numpy as np
import pytest
from conftest import natural_image

from compact import colour, container
from compact.errors import FormatError


def _error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(float) - b) ** 2))


def test_apply_is_the_documented_integer_formula():
    correction = colour.ColourCorrection((3, -2, 1, 0, -128, 127, 5, 5, -5), (-300, 1000, 64))
    x = np.random.default_rng(0).integers(0, 256, (7, 9, 3)).astype(np.uint8)
    d, o = np.array(correction.matrix).reshape(3, 3), np.array(correction.offset)
    for pixel, out in zip(x.reshape(-1, 3).tolist(), correction.apply(x).reshape(-1, 3).tolist(), strict=True):
        for c in range(3):
            acc = 128 * pixel[c] + sum(int(d[c, j]) * (pixel[j] - 128) for j in range(3)) + int(o[c]) + 64
            assert out[c] == min(255, max(0, acc // 128))
    assert colour.ColourCorrection.from_bytes(correction.to_bytes()) == correction


def test_a_cast_is_removed_and_an_exact_decode_gets_no_block():
    photo = natural_image(64, 80, seed=1)
    noise = np.random.default_rng(1).normal(0, 4, photo.shape)
    cast = np.clip(photo * np.array([0.85, 1.1, 1.0]) + [15, -10, 5] + noise, 0, 255).astype(np.uint8)
    fitted = colour.fit(cast, photo)
    assert _error(fitted.apply(cast), photo) < 0.3 * _error(cast, photo)
    assert colour.fit(photo, photo) is None  # nothing to gain: the stream carries no block


@pytest.mark.parametrize("size", [(1, 1), (16, 16), (24, 40)])
def test_a_flat_colour_comes_back_from_a_patterned_decode(size):
    rng = np.random.default_rng(sum(size))
    flat = np.full((*size, 3), (200, 30, 40), np.uint8)
    decoded = np.clip(flat.astype(int) + [-60, 90, 70] + rng.integers(-30, 30, (*size, 1)), 0, 255).astype(np.uint8)
    assert np.abs(colour.fit(decoded, flat).apply(decoded).astype(int) - flat).max() <= 1
    assert np.abs(decoded.astype(int) - flat).max() > 30  # what the bound catches without the fit


def test_chunked_sums_give_the_same_fit(monkeypatch):
    photo = natural_image(48, 40, seed=2)
    decoded = np.clip(photo.astype(int) * 0.9 + 20, 0, 255).astype(np.uint8)
    whole = colour.fit(decoded, photo)
    expected = whole.apply(decoded)
    monkeypatch.setattr(colour, "CHUNK", 100)  # 20 chunks, the last one short
    assert colour.fit(decoded, photo) == whole
    assert np.array_equal(whole.apply(decoded), expected)


def test_apply_takes_any_memory_layout():
    correction = colour.ColourCorrection((3, -2, 1, 0, -128, 127, 5, 5, -5), (-300, 1000, 64))
    x = natural_image(24, 40, seed=4)
    turned = x.transpose(1, 0, 2)  # a view whose rows are not contiguous
    assert np.array_equal(correction.apply(turned), correction.apply(np.ascontiguousarray(turned)))


def test_a_colour_block_of_the_wrong_size_is_a_format_error():
    header = container.Header(bytes(8), 16, 16, 16, 1, 1, 2)
    with pytest.raises(FormatError, match="colour block"):
        container.write(header, b"\0\0", container.Extensions(colour=bytes(14)))
    with pytest.raises(FormatError, match="colour block"):
        colour.ColourCorrection.from_bytes(bytes(16))
