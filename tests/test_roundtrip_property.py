"""A round-trip property over random images: any size from 1 to 300 px a side, the common Pillow modes, with and
without alpha. Decoding gives the image's size, its alpha exactly, and the same bytes and pixels every time.
New images each run (the fuzz seed in pytest's header; COMPACT_FUZZ_SEED replays a run)."""

import os

import numpy as np
import pytest
from conftest import FUZZ_SEED
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

from compact.codec import Codec

EXAMPLES = int(os.environ.get("COMPACT_PROPERTY_CASES", "40"))
MODES = ["RGB", "RGBA", "L", "LA", "P", "PA", "1", "I;16", "CMYK", "P-keyed", "L-keyed"]


@pytest.fixture(scope="module")
def codec():
    return Codec("default", "onnx")


def make_image(mode: str, width: int, height: int, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray | None]:
    """A random image in ``mode`` and the alpha plane COMPACT must give back (None: no alpha)."""
    smooth = rng.integers(0, 256, (max(1, height // 8), max(1, width // 8), 4), dtype=np.uint8)
    base = Image.fromarray(smooth, "RGBA").resize((width, height), Image.BILINEAR)
    if mode == "RGBA":
        pixels = np.asarray(base).copy()
        pixels[..., 3] = rng.integers(0, 256, (height, width), dtype=np.uint8)
        return Image.fromarray(pixels, "RGBA"), pixels[..., 3]
    if mode in ("LA", "PA"):
        image = base.convert(mode)
        return image, np.asarray(image.getchannel("A"))
    if mode in ("P-keyed", "L-keyed"):
        image = base.convert("RGB").convert(mode[0])
        key = int(np.asarray(image)[0, 0])
        image.info["transparency"] = key
        return image, np.where(np.asarray(image) == key, 0, 255).astype(np.uint8)
    if mode == "I;16":
        grey = np.asarray(base.convert("L")).astype("<u2") * 257
        return Image.frombytes("I;16", (width, height), grey.tobytes()), None
    return base.convert("RGB").convert(mode), None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@seed(FUZZ_SEED)
@given(mode=st.sampled_from(MODES), width=st.integers(1, 300), height=st.integers(1, 300),
       case=st.integers(0, 2**32 - 1), quality=st.integers(1, 4))  # fmt: skip
def test_round_trip_keeps_size_alpha_and_is_deterministic(codec, mode, width, height, case, quality):
    image, alpha = make_image(mode, width, height, np.random.default_rng(case))
    stream = codec.compress(image, quality)
    assert codec.compress(image, quality) == stream  # the same bytes every time
    picture = codec.decompress_picture(stream)
    assert picture.rgb.shape == (height, width, 3) and picture.rgb.dtype == np.uint8
    if alpha is None:
        assert picture.alpha is None
    else:
        assert picture.alpha is not None and np.array_equal(picture.alpha, alpha)  # lossless
    again = codec.decompress_picture(stream)
    assert np.array_equal(again.rgb, picture.rgb)
    out = codec.decompress(stream)
    assert out.size == (width, height) and out.mode == ("RGB" if alpha is None else "RGBA")


def test_the_alpha_check_can_fail(codec):
    """Negative control: the alpha of another image (one pixel changed) is not what the stream gives back."""
    image, alpha = make_image("RGBA", 40, 24, np.random.default_rng(3))
    picture = codec.decompress_picture(codec.compress(image))
    other = alpha.copy()
    other[5, 7] ^= 1
    assert np.array_equal(picture.alpha, alpha) and not np.array_equal(picture.alpha, other)
