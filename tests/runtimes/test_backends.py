import sys

import numpy as np
import pytest

from compact.errors import BackendUnavailableError
from compact.runtimes import get_backend, unavailable_reason
from compact.runtimes.coreml_shapes import IMAGE_SHAPES, fit_shape, latent_shapes, pad_to
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


def test_coreml_shape_fitting():
    assert fit_shape(512, 768) == (512, 768)
    assert fit_shape(32, 48) == (256, 256)
    assert fit_shape(720, 1280) == (720, 1280)
    assert fit_shape(1080, 1920) == (1088, 1920)
    assert fit_shape(4096, 4096) is None
    assert all(h % 16 == 0 and w % 16 == 0 for h, w in IMAGE_SHAPES) and len(IMAGE_SHAPES) <= 128
    assert fit_shape(2, 3, latent_shapes()) == (16, 16)
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    padded = pad_to(x, 4, 5)
    assert padded.shape == (1, 1, 4, 5) and np.array_equal(padded[..., :2, :3], x)
    assert np.all(padded[0, 0, 3, :3] == x[0, 0, 1]) and np.all(padded[0, 0, :2, 4] == x[0, 0, :, 2])


@pytest.mark.parametrize("h,w", [(1, 1), (16, 16), (100, 130), (512, 768), (768, 512), (720, 1280), (1080, 1920),
                                 (2000, 30), (2048, 2048)])  # fmt: skip
def test_core_ml_is_only_fed_enumerated_shapes(h, w):
    from compact.config import STRIDE
    from compact.runtimes.coreml_shapes import decode_fitted, encode_fitted

    fed = []

    def encoder(x):
        fed.append(x.shape[2:])
        return np.zeros((1, 16, x.shape[2] // STRIDE, x.shape[3] // STRIDE), np.float32)

    def decoder(b):
        fed.append((b.shape[2] * STRIDE, b.shape[3] * STRIDE))
        return np.zeros((1, 3, b.shape[2] * STRIDE, b.shape[3] * STRIDE), np.float32)

    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    latent = encode_fitted(np.zeros((1, 3, ph, pw), np.float32), encoder)
    assert latent.shape == (1, 16, ph // STRIDE, pw // STRIDE)
    assert decode_fitted(latent, decoder).shape == (1, 3, ph, pw)
    assert all(tuple(s) in IMAGE_SHAPES for s in fed)


def test_core_ml_refuses_images_beyond_the_largest_shape():
    from compact.errors import ImageError
    from compact.runtimes.coreml_shapes import encode_fitted

    with pytest.raises(ImageError, match="larger than every Core ML shape"):
        encode_fitted(np.zeros((1, 3, 2064, 16), np.float32), lambda x: x)
