"""Real-world inputs: alpha kept losslessly, ICC profiles carried through, size limits, odd modes."""

import io

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image, ImageCms

from compact import container
from compact.codec import Codec
from compact.errors import FormatError, ImageError
from compact.geometry import latent_size
from compact.picture import Picture, load_picture, save_image


@pytest.fixture(scope="module")
def codec():
    return Codec("default", "onnx")


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P-transparency"])
def test_alpha_survives_losslessly(codec, tmp_path, mode):
    rgb = natural_image(37, 53, seed=60)
    alpha = np.random.default_rng(60).integers(0, 256, (37, 53), dtype=np.uint8)
    if mode == "RGBA":
        img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    elif mode == "LA":
        img = Image.fromarray(np.dstack([rgb[..., 0], alpha]), "LA")
    else:
        img = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
        img.info["transparency"] = 3
        alpha = np.where(np.asarray(img) == 3, 0, 255).astype(np.uint8)
    path = tmp_path / "in.png"
    img.save(path)
    data = codec.compress(path)
    assert container.read(data)[0].flags & container.FLAG_ALPHA
    out = codec.decompress(data)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)
    save_image(codec.decompress_picture(data), tmp_path / "out.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png"))[..., 3], alpha)


def test_opaque_images_carry_no_alpha_block(codec):
    data = codec.compress(natural_image(20, 20))
    assert not container.read(data)[0].flags & container.FLAG_ALPHA
    assert codec.decompress(data).mode == "RGB"


def test_icc_profile_is_carried_to_the_png(codec, tmp_path):
    icc = _srgb_icc()
    path = tmp_path / "icc.png"
    Image.fromarray(natural_image(24, 24)).save(path, icc_profile=icc)
    data = codec.compress(path)
    assert container.read(data)[2].icc == icc
    save_image(codec.decompress_picture(data), tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").info["icc_profile"] == icc


def test_grey_and_cmyk_profiles_are_not_carried(tmp_path):
    grey = tmp_path / "grey.png"
    Image.fromarray(natural_image(16, 16)[..., 0]).save(grey, icc_profile=b"not an rgb profile")
    pic = load_picture(grey)
    assert pic.icc is None and pic.rgb.shape == (16, 16, 3) and np.all(pic.rgb[..., 0] == pic.rgb[..., 1])
    cmyk = tmp_path / "c.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(cmyk)
    pic = load_picture(cmyk)
    assert pic.icc is None and tuple(pic.rgb[0, 0]) == (255, 0, 0)  # Pillow's CMYK -> RGB rule


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path):
    path = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 4), 0x8000, dtype=np.uint16)).save(path)
    assert load_picture(path).rgb[0, 0].tolist() == [128, 128, 128]


def _keyed(mode: str, tmp_path) -> tuple[object, np.ndarray]:
    """A PNG of ``mode`` with a tRNS transparency key, and the alpha plane it means."""
    grey = (natural_image(30, 41, seed=61)[..., 0] // 64 * 64).astype(np.uint8)  # 4 levels: the key recurs
    key = int(grey[0, 0])
    if mode == "1":
        values, img, key = grey > 100, Image.fromarray(((grey > 100) * 255).astype(np.uint8)).convert("1"), 0
        alpha = np.where(values, 255, 0)
    elif mode == "L":
        img, alpha = Image.fromarray(grey), np.where(grey == key, 0, 255)
    elif mode == "I;16":
        wide = grey.astype(np.uint16) * 257
        img, alpha, key = Image.fromarray(wide), np.where(wide == wide[0, 0], 0, 255), int(wide[0, 0])
    else:
        rgb = np.dstack([grey, grey // 2, 255 - grey])
        img, key = Image.fromarray(rgb), tuple(int(v) for v in rgb[0, 0])
        alpha = np.where(np.all(rgb == rgb[0, 0], axis=2), 0, 255)
    path = tmp_path / f"keyed-{mode.replace(';', '')}.png"
    img.save(path, transparency=key)
    return path, alpha.astype(np.uint8)


@pytest.mark.parametrize("mode", ["1", "L", "I;16", "RGB"])
def test_transparency_keys_of_every_mode_become_lossless_alpha(codec, tmp_path, mode):
    path, alpha = _keyed(mode, tmp_path)
    assert 0 < np.count_nonzero(alpha == 0) < alpha.size  # the key marks some pixels, not all
    out = np.asarray(codec.decompress(codec.compress(path)))
    assert out.shape[2] == 4 and np.array_equal(out[..., 3], alpha)


def test_big_endian_sixteen_bit_grey_reads_like_little_endian(tmp_path):
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000)
    big = Image.frombytes("I;16B", (4, 3), values.astype(">u2").tobytes())
    little = Image.frombytes("I;16", (4, 3), values.astype("<u2").tobytes())
    from compact.picture import to_picture

    assert np.array_equal(to_picture(big).rgb, to_picture(little).rgb)
    assert to_picture(big).rgb[2, 3].tolist() == [214] * 3  # 55000 / 256


def _black_png(side: int) -> bytes:
    """A side x side black grey PNG, made row by row (a 16384-px side is 268 MB of pixels in 0.3 MB)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), bytes(side + 1)  # filter byte 0, then the row
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_an_icon_hiding_a_huge_image_is_refused_before_decoding(tmp_path):
    import resource
    import struct

    png = _black_png(16384)  # 268 M pixels behind a 16x16 icon header
    ico = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(png), 22) + png
    path = tmp_path / "bomb.ico"
    path.write_bytes(ico)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    max_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError):
        load_picture(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing was decoded
    assert Image.MAX_IMAGE_PIXELS == max_before


def test_unimplemented_formats_and_allocation_failures_are_image_errors(tmp_path, monkeypatch):
    path = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(path)
    for failure in (NotImplementedError("Unimplemented pixel format"), MemoryError(), IndexError("bad table")):

        def load(self, failure=failure):
            raise failure

        monkeypatch.setattr(Image.Image, "load", load)
        with pytest.raises(ImageError, match="cannot read image"):
            load_picture(path)


def test_pillow_warnings_stay_quiet(tmp_path, recwarn):
    path = tmp_path / "w.png"
    Image.new("RGB", (4, 4)).save(path)

    real_open = Image.open

    def noisy_open(*args, **kwargs):
        import warnings

        warnings.warn("Pillow has something to say", UserWarning, stacklevel=1)
        return real_open(*args, **kwargs)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(Image, "open", noisy_open)
    try:
        load_picture(path)
    finally:
        monkeypatch.undo()
    assert not [w for w in recwarn if "something to say" in str(w.message)]


def test_decompression_bomb_guard(tmp_path, codec):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ImageError, match="--max-pixels"):
        load_picture(path, max_pixels=50_000)
    assert load_picture(path, max_pixels=None).rgb.shape == (200, 300, 3)
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's global limit is restored


def test_corrupt_alpha_block_is_a_format_error(codec):
    rgba = np.dstack([natural_image(16, 16), np.full((16, 16), 7, np.uint8)])
    header, payload, ext = container.read(codec.compress(rgba))
    wrong_size = io.BytesIO()
    Image.new("L", (15, 16)).save(wrong_size, format="PNG")
    for alpha in (b"\x89PNG garbage", wrong_size.getvalue()):
        data = container.write(header, payload, container.Extensions(alpha=alpha, icc=ext.icc))
        with pytest.raises(FormatError, match="alpha block"):
            codec.decompress(data)


def test_extension_blocks_round_trip_and_truncations():
    lh, lw = latent_size(20, 20)
    header = container.Header(b"\x02" * 8, 20, 20, 16, lh, lw, 8)
    ext = container.Extensions(alpha=b"A" * 10, icc=b"I" * 7)
    data = container.write(header, bytes(8), ext)
    parsed, payload, got = container.read(data)
    assert got == ext and parsed.flags == container.FLAG_ALPHA | container.FLAG_ICC
    for cut in range(len(data)):
        with pytest.raises(FormatError):
            container.read(data[:cut])
    with pytest.raises(FormatError, match="unexpected bytes"):
        container.read(data[:-4] + b"\0" + data[-4:])


def test_pictures_from_arrays(codec):
    rgba = np.dstack([natural_image(8, 8), np.arange(64, dtype=np.uint8).reshape(8, 8)])
    assert np.array_equal(codec.decompress_picture(codec.compress(rgba)).alpha, rgba[..., 3])
    assert isinstance(codec.decompress_picture(codec.compress(Picture(rgba[..., :3]))), Picture)
