import io

import numpy as np
import pytest
from PIL import Image

from compact.errors import ImageError, OutputExistsError
from compact.files import write_atomic
from compact.geometry import from_model_output, to_model_input
from compact.picture import load_picture, save_image


@pytest.mark.parametrize("h,w", [(1, 1), (15, 17), (16, 16), (33, 100)])
def test_padding_to_stride_and_exact_crop(h, w):
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    x = to_model_input(rgb)
    assert x.shape[2] % 16 == 0 and x.shape[3] % 16 == 0 and x.dtype == np.float32
    assert x.shape[2] - h < 16 and x.shape[3] - w < 16
    assert np.array_equal(from_model_output(x, w, h), rgb)
    # edge padding repeats the last row and column
    assert np.allclose(x[0, :, -1, :w], x[0, :, h - 1, :w])


def test_output_is_clipped_and_rounded():
    x = np.array([-0.5, 0.0, 0.5, 1.0, 1.7], dtype=np.float32).reshape(1, 1, 1, 5).repeat(3, axis=1)
    assert from_model_output(x, 5, 1)[0, :, 0].tolist() == [0, 0, 128, 255, 255]


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_any_mode_loads_as_rgb(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8))
    img = base.convert("L").convert("I;16") if mode == "I;16" else base.convert(mode)
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    img.save(path)
    rgb = load_picture(path).rgb
    assert rgb.shape == (9, 7, 3) and rgb.dtype == np.uint8


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (20, 10), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif.tobytes())
    assert load_picture(path).rgb.shape == (20, 10, 3)


def test_unreadable_and_missing_images_raise_image_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError):
        load_picture(bad)
    with pytest.raises(ImageError, match="no such image"):
        load_picture(tmp_path / "missing.png")


def test_write_atomic_refuses_overwrite_and_leaves_no_partial(tmp_path):
    path = tmp_path / "out.bin"
    write_atomic(path, b"one")
    with pytest.raises(OutputExistsError):
        write_atomic(path, b"two")
    assert path.read_bytes() == b"one"
    write_atomic(path, b"two", force=True)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_save_image_png_round_trip(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    save_image(rgb, tmp_path / "a.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), rgb)
    with pytest.raises(ImageError, match="unknown image format"):
        save_image(rgb, tmp_path / "a.nope")
    assert Image.open(io.BytesIO((tmp_path / "a.png").read_bytes())).format == "PNG"
