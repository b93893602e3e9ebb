"""The browser runtime in a real (headless) Chromium: Python-encoded streams decoded by the page must match
the Python decoder (PSNR >= 50 dB on the canvas pixels), images compressed by the page must be streams
Python reads, and malformed files must show the Python reader's error message instead of a picture.

Needs playwright (pip install "compact[dev]"), Debian's chromium and the onnxruntime-web build step
(compact/runtimes/web/build.sh); skipped with the reason when one is missing, failed instead when
COMPACT_REQUIRE_WEB=1 (as .ci/run sets).
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image, ImageCms
from support.webpage import SOFTWARE_WEBGPU, WebPage, chromium_path

from compact import container
from compact.codec import Codec
from compact.errors import CompactError, MissingExtraError
from compact.metrics import psnr
from compact.web import ort_dist, start

pytestmark = pytest.mark.web

ROOT = Path(__file__).resolve().parents[2]
#: browser decode against the Python decoder. Float32 differences between onnxruntime-web and onnxruntime
#: round a few pixels the other way: 94-98 dB measured before the grid filter, which reads the network's
#: output in sixteenths of a level and so passes on more of them (measured 88-94 dB with WebAssembly, 79.7 dB
#: with WebGPU on SwiftShader). A one-level error on 0.5% of the values is 71 dB (the control below)
MIN_PSNR = 75.0
WASM = "?backend=wasm"


def missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return 'playwright is not installed (pip install "compact[dev]")'
    if chromium_path() is None:
        return "no chromium on PATH (apt-get install chromium)"
    try:
        ort_dist()
    except MissingExtraError as exc:
        return str(exc)
    return None


def require_web() -> None:
    reason = missing()
    if reason:
        if os.environ.get("COMPACT_REQUIRE_WEB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    require_web()
    server, address = start()
    yield address
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page(url: str) -> Iterator[WebPage]:
    # One browser for the module (Playwright's sync API runs one at a time); it offers a software WebGPU
    # adapter for test_webgpu_backend, and the page asks for WebAssembly unless a test says otherwise.
    with WebPage(url + WASM, args=SOFTWARE_WEBGPU) as web:
        assert web.state == "ready", web.text("#error")
        yield web


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec("default", backend="onnx")


def decode_in_page(page: WebPage, codec: Codec, data: bytes, name: str = "image.cpt") -> float:
    """Decode ``data`` in the page; check it against the Python decoder and return the RGB PSNR."""
    result = page.open(name, data)
    assert result["ok"], result
    expected = codec.decompress_picture(data)
    pixels = page.pixels()
    assert pixels.shape[:2] == expected.rgb.shape[:2]
    alpha = expected.alpha if expected.alpha is not None else np.full(expected.rgb.shape[:2], 255, np.uint8)
    assert np.array_equal(pixels[..., 3], alpha)
    opaque = alpha == 255  # a canvas keeps premultiplied colour: compare RGB where it is exact
    value = psnr(pixels[..., :3][opaque], expected.rgb[opaque])
    assert value >= MIN_PSNR
    assert page.visible("#view") and not page.visible("#error")
    info = page.text("#info")
    assert f"{len(data):,} bytes" in info and f"{8 * len(data) / alpha.size:.4f}" in info and "decode time" in info
    return value


@pytest.mark.parametrize("size", [(16, 16), (37, 53), (256, 384)])
def test_python_streams_decode_in_the_page(page, codec, size):
    decode_in_page(page, codec, codec.compress(natural_image(*size, seed=sum(size))))


def test_both_container_versions(page, codec):
    rgb = natural_image(192, 160, seed=3)
    raw = Codec("default", backend="onnx", entropy_coding=False).compress(rgb)
    assert raw[4] == container.RAW
    decode_in_page(page, codec, raw)
    if codec.context is None:
        pytest.skip("the default model has no context model, so no version 2 streams")
    coded = codec.compress(rgb)
    assert coded[4] == container.ENTROPY_CODED
    decode_in_page(page, codec, coded)


def test_streams_of_the_defaults_replaced_context_table(page, codec):
    """Written with the default model's first table (layout 1), which its folder keeps: the page loads the
    kept table and decodes them as Python does."""
    streams = Path(__file__).resolve().parents[1] / "fixtures" / "streams"
    for quality in (1, 2, 4):
        data = (streams / f"default-q{quality}.cpt").read_bytes()
        assert container.read_header(data).context_id != codec.context.context_id_bytes
        decode_in_page(page, codec, data, f"old-q{quality}.cpt")


def test_lower_quality_prefix(page, codec):
    if codec.qualities < 2:
        pytest.skip("the default model has a single quality level")
    data = codec.compress(natural_image(128, 176, seed=4), quality=1)
    assert container.read_header(data).channels < codec.bundle.manifest.config.latent_channels
    decode_in_page(page, codec, data)


def test_alpha_and_icc_blocks(page, codec):
    rgb = natural_image(64, 96, seed=5)
    alpha = np.full((64, 96), 255, np.uint8)
    alpha[:, 48:] = np.linspace(0, 254, 48).astype(np.uint8)
    image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    image.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = codec.compress(image)
    assert container.read_header(data).flags == container.FLAG_ALPHA | container.FLAG_ICC | container.FLAG_COLOUR
    decode_in_page(page, codec, data)


def test_kodak_image_and_screenshot(page, codec, tmp_path):
    data = codec.compress(ROOT / "examples" / "kodim23.png")
    decode_in_page(page, codec, data, "kodim23.cpt")
    page.screenshot(tmp_path / "web.png")
    assert Image.open(tmp_path / "web.png").size[1] > 512


def _recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def malformed(data: bytes) -> dict[str, bytes]:
    """Broken variants of a valid version 2 stream; the header fields are patched with a fixed CRC."""
    body = data[:-4]
    return {
        "bad magic": b"GIF8" + data[4:],
        "bad crc": data[:-1] + bytes([data[-1] ^ 0xFF]),
        "truncated header": data[:20],
        "truncated payload": data[:-9],
        "trailing bytes": data + b"\0\0",
        "unknown version": _recrc(body[:4] + b"\x07" + body[5:]),
        "other model": _recrc(body[:6] + bytes(8) + body[14:]),
        "other context model": _recrc(body[:14] + b"\xde\xad\xbe\xef" + body[18:]),
        "corrupt payload": _recrc(body[:36] + b"\xff" * 8 + body[44:]),
        "not a file at all": b"",
    }


@pytest.fixture(scope="module")
def good(codec: Codec) -> bytes:
    data = codec.compress(natural_image(128, 160, seed=6))
    assert data[4] == container.ENTROPY_CODED
    return data


@pytest.mark.parametrize("case", list(malformed(b"CPCT" + bytes(60))))
def test_malformed_files_show_the_python_error(page, codec, good, case):
    bad = malformed(good)[case]
    with pytest.raises(CompactError) as caught:
        codec.decompress_picture(bad)
    page.open("good.cpt", good)  # a picture on screen first: the error must replace it
    result = page.open("broken.cpt", bad)
    assert not result["ok"]
    assert page.text("#error") == f"error: {caught.value}"
    assert page.visible("#error") and not page.visible("#view")


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def test_page_compresses_png_like_python(page, codec):
    rgb = natural_image(96, 136, seed=7)
    result = page.open("photo.png", _png(rgb), "image/png")
    assert result["ok"] and result["compressed"], result
    stream = result["stream"]
    header, code, _ = codec.decode_bits(stream)  # Python reads what the page wrote
    expected = codec.encode_bits(rgb)[: header.channels]
    assert header.channels == codec.channels_for(None)
    assert np.mean(code == expected) >= 0.999  # only latents within float rounding of 0 may flip
    ours = codec.compress(rgb)
    if np.array_equal(code, expected):
        # the same stream, but for the colour block: fitted on the page's own decode, whose float32
        # rounding can move a coefficient by one unit; both blocks give the same picture
        page_header, page_payload, page_ext = container.read(stream)
        header, payload, ext = container.read(ours)
        assert (page_header, page_payload, page_ext.alpha, page_ext.icc) == (header, payload, ext.alpha, ext.icc)
        assert (page_ext.colour is None) == (ext.colour is None)
        assert psnr(codec.decompress_array(stream), codec.decompress_array(ours)) >= MIN_PSNR
    assert psnr(page.pixels()[..., :3], codec.decompress_array(stream)) >= MIN_PSNR
    assert page.visible("#download")


def test_page_keeps_alpha_when_compressing(page, codec):
    rgba = np.dstack([natural_image(40, 56, seed=8), np.tile(np.arange(0, 224, 4, dtype=np.uint8), (40, 1))])
    result = page.open("logo.png", _png(rgba), "image/png")
    assert result["ok"], result
    picture = codec.decompress_picture(result["stream"])
    assert picture.alpha is not None and np.array_equal(picture.alpha, rgba[..., 3])


def test_jpeg_input(page, codec):
    buf = io.BytesIO()
    Image.fromarray(natural_image(80, 64, seed=9)).save(buf, format="JPEG", quality=90)
    result = page.open("photo.jpg", buf.getvalue(), "image/jpeg")
    assert result["ok"], result
    assert codec.decompress_array(result["stream"]).shape == (80, 64, 3)


def test_tiled_decode_matches_whole_image(page, codec, url):
    """The page's tiles (forced small with ?tile=) give the Python whole-image result, as the halo promises."""
    data = codec.compress(natural_image(200, 264, seed=10))
    page.goto(url + WASM + "&tile=4")
    try:
        result = page.open("tiled.cpt", data)
        assert result["ok"] and result["tiles"] == 4 * 5, result  # 13 x 17 cells in tiles of 4
        assert psnr(page.pixels()[..., :3], codec.decompress_array(data)) >= MIN_PSNR
        rgb = natural_image(120, 152, seed=12)
        result = page.open("tiled.png", _png(rgb), "image/png")  # the encoder's tiles too
        assert result["ok"] and result["compressed"], result
        code = codec.decode_bits(result["stream"])[1]  # the default quality: a prefix of the channels
        assert np.mean(code == codec.encode_bits(rgb)[: len(code)]) >= 0.999
    finally:
        page.goto(url + WASM)


def test_webgpu_backend(page, codec, url):
    """The WebGPU path, on Chromium's software adapter (SwiftShader) where there is no GPU: slow but exact enough."""
    data = codec.compress(natural_image(40, 72, seed=11))
    page.goto(url + "?backend=webgpu")
    try:
        result = page.open("gpu.cpt", data)
        if result.get("provider") != "webgpu":
            reason = "the page fell back to WebAssembly: no usable WebGPU adapter, not even SwiftShader"
            if os.environ.get("COMPACT_REQUIRE_WEB") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        assert result["ok"], result
        assert psnr(page.pixels()[..., :3], codec.decompress_array(data)) >= MIN_PSNR
    finally:
        page.goto(url + WASM)


def test_quality_levels_of_a_multi_level_model(page, url, tiny_levels_bundle):
    """Prefix streams (fewer channels than the model's) on a small three-level model: unsent channels are 0."""
    codec = Codec(tiny_levels_bundle, backend="onnx")
    server, address = start(model=str(tiny_levels_bundle.root))
    try:
        page.goto(address + WASM)
        assert page.state == "ready", page.text("#error")
        for quality in range(1, codec.qualities + 1):
            data = codec.compress(natural_image(48, 80, seed=quality), quality=quality)
            assert container.read_header(data).channels == codec.channels_for(quality)
            decode_in_page(page, codec, data)
    finally:
        page.goto(url + WASM)
        server.shutdown()
        server.server_close()


def test_the_bound_catches_a_one_level_error_on_half_a_percent_of_the_pixels():
    """The negative control of MIN_PSNR: a decoder off by one level on 0.5% of the pixels fails it."""
    rgb = natural_image(64, 96, seed=3)
    wrong = rgb.copy().reshape(-1)
    wrong[:: 200] ^= 1
    assert psnr(rgb, wrong.reshape(rgb.shape)) < MIN_PSNR
