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
