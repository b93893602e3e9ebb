import sys

import numpy as np
import pytest

from compact.errors import BackendUnavailableError
from compact.runtimes import get_backend, unavailable_reason
from compact.runtimes.coreml_shapes import BORDER, IMAGE_SHAPES, ShapeFit, fit_shape, pad_to
from compact.runtimes.onnxruntime_backend import choose_providers


def test_provider_choice():
    everything = ["CoreMLExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(everything, "darwin") == everything
    assert choose_providers(everything, "linux") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(["CPUExecutionProvider"], "linux") == ["CPUExecutionProvider"]


def test_unknown_backend_names_the_choices(default_bundle):
    with pytest.raises(BackendUnavailableError, match="choose from auto, coreml, onnx, onnx-int8, torch"):
        get_backend("tensorflow", default_bundle)


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the non-macOS message")
def test_coreml_backend_explains_why_not_here(default_bundle):
    with pytest.raises(BackendUnavailableError, match="only on macOS"):
        get_backend("coreml", default_bundle)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS may pick coreml")
def test_auto_picks_onnx_off_macos(default_bundle):
    assert get_backend("auto", default_bundle).name == "onnx"


def test_backend_needs_its_files(default_bundle, tmp_path):
    import shutil

    from compact.manifest import ModelBundle

    assert unavailable_reason("onnx", default_bundle) is None
    copy = tmp_path / "m"
    shutil.copytree(default_bundle.root, copy)
    (copy / "encoder.onnx").unlink()
    reason = unavailable_reason("onnx", ModelBundle.load(copy))
    assert reason is not None and "onnx encoder" in reason


FIT = ShapeFit(IMAGE_SHAPES)


def test_coreml_shape_fitting():
    assert fit_shape(512, 768) == (512, 768)
    assert fit_shape(32, 48) == (256, 256)
    assert fit_shape(720, 1280) == (720, 1280)
    assert fit_shape(1080, 1920) == (1088, 1920)
    assert fit_shape(4096, 4096) is None
    assert all(h % 16 == 0 and w % 16 == 0 for h, w in IMAGE_SHAPES) and len(IMAGE_SHAPES) <= 128
    assert fit_shape(2, 3, FIT.latent_shapes) == (16, 16)
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    padded = pad_to(x, 4, 5, -1.0)
    assert padded.shape == (1, 1, 4, 5) and np.array_equal(padded[..., :2, :3], x)
    assert np.all(padded[0, 0, 2:] == -1) and np.all(padded[0, 0, :, 3:] == -1)


@pytest.mark.parametrize("h,w", [(1, 1), (16, 16), (100, 130), (512, 768), (768, 512), (720, 1280), (1080, 1920),
                                 (2000, 30), (2048, 2048)])  # fmt: skip
def test_core_ml_is_only_fed_enumerated_shapes_with_the_outside_marked(h, w):
    from compact.config import STRIDE

    fed = []

    def encoder(x):
        fed.append(x.shape[2:])
        assert np.all(x[:, :, ph:] < 0) and np.all(x[:, :, :, pw:] < 0) and np.all(x[:, :, :ph, :pw] == 0.5)
        return np.zeros((1, 16, x.shape[2] // STRIDE, x.shape[3] // STRIDE), np.float32)

    def decoder(b):
        fed.append((b.shape[2] * STRIDE, b.shape[3] * STRIDE))
        lh, lw = ph // STRIDE, pw // STRIDE
        assert np.all(b[:, :, lh:] == 0) and np.all(b[:, :, :, lw:] == 0) and np.all(np.abs(b[:, :, :lh, :lw]) == 1)
        return np.zeros((1, 3, b.shape[2] * STRIDE, b.shape[3] * STRIDE), np.float32)

    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    latent = FIT.encode(np.full((1, 3, ph, pw), 0.5, np.float32), encoder)
    assert latent.shape == (1, 16, ph // STRIDE, pw // STRIDE)
    assert FIT.decode(np.ones_like(latent), decoder).shape == (1, 3, ph, pw)
    assert all(tuple(s) in IMAGE_SHAPES for s in fed)


def test_core_ml_refuses_images_beyond_the_largest_shape():
    from compact.errors import ImageError

    with pytest.raises(ImageError, match="larger than every Core ML shape"):
        FIT.encode(np.zeros((1, 3, 2064, 16), np.float32), lambda x: x)


def test_core_ml_shapes_come_from_the_manifest():
    from compact.errors import ModelError

    fit = ShapeFit.from_manifest({"border": BORDER, "image_shapes_hxw": ["32x48", "256x256"]})
    assert fit.image_shapes == ((32, 48), (256, 256)) and fit.latent_shapes == ((2, 3), (16, 16))
    fed = []
    fit.encode(np.zeros((1, 3, 16, 48), np.float32), lambda x: fed.append(x.shape[2:]) or np.zeros((1, 1, 2, 3)))
    assert fed == [(32, 48)]  # a shape the built-in list does not have
    with pytest.raises(ModelError, match="export it again"):  # an export whose graphs pad with edge pixels
        ShapeFit.from_manifest({"image_shapes_hxw": ["256x256"]})
    for bad in (["256x250"], ["big"], []):
        with pytest.raises(ModelError):
            ShapeFit.from_manifest({"border": BORDER, "image_shapes_hxw": bad})
