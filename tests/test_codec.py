import struct
import zlib

import numpy as np
import pytest
from conftest import natural_image, random_image
from PIL import Image

import compact
from compact import colour, container
from compact.codec import Codec
from compact.errors import ChecksumError, FormatError, ImageError, ModelMismatchError, TruncatedStreamError
from compact.metrics import psnr


@pytest.fixture(scope="module")
def codec():
    return Codec("default", backend="onnx")


def _recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("h,w", [(1, 1), (17, 33), (64, 64), (100, 7)])
def test_round_trip_restores_exact_size_and_rate(codec, h, w):
    rgb = random_image(h, w, seed=h * w)
    bare = Codec("default", backend="onnx", entropy_coding=False, colour_correction=False).compress(rgb)
    lh, lw = -(-h // 16), -(-w // 16)
    assert len(bare) == container.HEADER_SIZE + (16 * lh * lw + 7) // 8 + container.CRC_SIZE
    raw = Codec("default", backend="onnx", entropy_coding=False).compress(rgb)
    assert len(raw) - len(bare) in (0, 4 + colour.BLOCK_SIZE)  # the colour block, when it helps
    data = codec.compress(rgb)  # entropy-coded when that is smaller
    assert len(data) <= len(raw)
    out = codec.decompress_array(data)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert np.array_equal(out, codec.decompress_array(raw))


def test_reconstruction_beats_a_flat_image(codec):
    rgb = natural_image(256, 256, seed=7)
    rec = codec.decompress_array(codec.compress(rgb))
    flat = np.broadcast_to(rgb.reshape(-1, 3).mean(0).round().astype(np.uint8), rgb.shape)
    assert psnr(rgb, rec) > psnr(rgb, flat) + 3.0


def test_compression_is_deterministic(codec):
    rgb = natural_image(64, 96, seed=8)
    assert codec.compress(rgb) == codec.compress(rgb)


def test_stream_from_another_model_is_refused(codec):
    data = codec.compress(random_image(32, 32))
    body = bytearray(data[:-4])
    body[6:14] = bytes(8)
    with pytest.raises(ModelMismatchError, match="made by model 0000000000000000"):
        codec.decompress_array(_recrc(bytes(body)))


def test_stream_with_other_channel_count_is_refused(codec):
    header = container.Header(codec.bundle.manifest.model_id_bytes, 32, 32, 12, 2, 2, 6)  # 12: not a level
    with pytest.raises(ModelMismatchError, match="12 latent channels"):
        codec.decompress_array(container.write(header, bytes(6)))


def test_corrupt_and_truncated_streams_raise_project_errors(codec):
    data = codec.compress(random_image(40, 40))
    flipped = bytearray(data)
    flipped[40] ^= 1
    with pytest.raises(ChecksumError):
        codec.decompress_array(bytes(flipped))
    with pytest.raises(TruncatedStreamError):
        codec.decompress_array(data[:-10])
    with pytest.raises(FormatError, match="magic"):
        codec.decompress_array(b"GIF89a" + data[6:])


def test_decoder_refuses_streams_over_the_pixel_limit(codec):
    data = codec.compress(random_image(64, 64))
    small = Codec("default", backend="onnx", max_pixels=1000)
    with pytest.raises(ImageError, match="over the limit"):
        small.decompress_array(data)


def test_three_line_api(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(natural_image(48, 64)).save(path)
    data = compact.compress(path)
    image = compact.decompress(data)
    assert isinstance(data, bytes) and image.size == (64, 48) and image.mode == "RGB"


def test_accepts_pil_images_and_rejects_bad_arrays(codec):
    img = Image.fromarray(natural_image(20, 30)).convert("L")
    assert codec.decompress(codec.compress(img)).size == (30, 20)
    with pytest.raises(ImageError):
        codec.compress(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ImageError):
        codec.compress(np.zeros((4, 4, 3), dtype=np.float32))


@pytest.mark.parametrize("size", [(1, 1), (16, 16), (24, 40), (128, 128)])
@pytest.mark.parametrize("rgb", [(200, 30, 40), (0, 255, 0), (128, 128, 128)])
def test_flat_colours_keep_their_colour(codec, size, rgb):
    """Issue 13's bound: within 4 levels per channel at every quality. The networks alone miss it by up to
    181 levels at 16x16 (a tiny image is all border to them); the stream's colour correction brings it back."""
    img = np.zeros((*size, 3), np.uint8)
    img[:] = rgb
    for quality in range(1, codec.qualities + 1):
        data = codec.compress(img, quality=quality)
        assert np.abs(codec.decompress_array(data).astype(int) - img).max() <= 4, quality
    # the negative control: the same stream with its colour block's red offset 8 levels off fails the bound
    header, payload, ext = container.read(data)
    assert ext.colour is not None
    block = bytearray(ext.colour)
    block[9:11] = (int.from_bytes(block[9:11], "big", signed=True) + 8 * colour.SCALE).to_bytes(2, "big", signed=True)
    wrong = container.write(header, payload, container.Extensions(ext.alpha, ext.icc, bytes(block)))
    assert np.abs(codec.decompress_array(wrong).astype(int) - img).max() > 4
