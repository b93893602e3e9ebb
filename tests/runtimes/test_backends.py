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
    with pytest.raises(BackendUnavailableError, match="choose from auto, coreml, onnx, torch"):
        get_backend("tensorflow", default_bundle)


@pytest.mark.skipif(sys.platform == "darwin", reason="checks the non-macOS message")
def test_coreml_backend_explains_why_not_here(default_bundle):
    with pytest.raises(BackendUnavailableError, match="only on macOS"):
        get_backend("coreml", default_bundle)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS may pick coreml")
def test_auto_picks_onnx_off_macos(default_bundle):
    assert get_backend("auto", default_bundle).name == "onnx"


def test_backend_needs_its_files(tiny_onnx_bundle):
    reason = unavailable_reason("coreml", tiny_onnx_bundle)
    assert reason is not None  # off macOS: platform; on macOS: no .mlpackage in an onnx-only export
    assert unavailable_reason("onnx", tiny_onnx_bundle) is None


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
