"""Every runtime reproduces the torch reference, in numbers."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")

from conftest import natural_image, random_image  # noqa: E402

from compact.bits import latent_to_symbols  # noqa: E402
from compact.geometry import to_model_input  # noqa: E402
from compact.metrics import psnr  # noqa: E402
from compact.runtimes import get_backend  # noqa: E402

IMAGES = {
    "random-48x80": random_image(48, 80, seed=1),
    "random-100x37": random_image(100, 37, seed=2),
    "natural-512x768": natural_image(512, 768, seed=3),
}


def compare(bundle, rgb):
    ref, ort = get_backend("torch", bundle), get_backend("onnx", bundle)
    x = to_model_input(rgb)
    lat_ref, lat_ort = ref.encode(x), ort.encode(x)
    flips = float(np.mean((lat_ref >= 0) != (lat_ort >= 0)))
    bits = latent_to_symbols(lat_ref)
    dec_ref, dec_ort = ref.decode(bits), ort.decode(bits)
    return float(np.abs(lat_ref - lat_ort).max()), flips, psnr(dec_ref, dec_ort, peak=1.0)


@pytest.mark.parametrize("name", IMAGES)
def test_shipped_model_torch_vs_onnxruntime(default_bundle, name):
    max_diff, flips, dec_psnr = compare(default_bundle, IMAGES[name])
    assert max_diff < 1e-4
    assert flips <= 1e-4
    assert dec_psnr >= 60.0


@pytest.mark.parametrize("name", ["random-48x80", "random-100x37"])
def test_fresh_export_torch_vs_onnxruntime(tiny_onnx_bundle, name):
    max_diff, flips, dec_psnr = compare(tiny_onnx_bundle, IMAGES[name])
    assert max_diff < 1e-4 and flips <= 1e-4 and dec_psnr >= 60.0


def test_onnx_reference_evaluator_agrees(default_bundle):
    """A second opinion from onnx's pure-Python evaluator, on a small input (it is slow)."""
    from onnx.reference import ReferenceEvaluator

    ort = get_backend("onnx", default_bundle)
    x = to_model_input(natural_image(32, 32, seed=4))
    enc = ReferenceEvaluator(str(default_bundle.file("onnx_encoder")))
    lat_ref = enc.run(None, {"image": x})[0]
    assert np.abs(lat_ref - ort.encode(x)).max() < 1e-4
    bits = np.where(lat_ref >= 0, 1.0, -1.0).astype(np.float32)
    dec = ReferenceEvaluator(str(default_bundle.file("onnx_decoder")))
    assert psnr(dec.run(None, {"bits": bits})[0], ort.decode(bits), peak=1.0) >= 60.0


def test_run_parity_takes_every_runnable_backend_without_special_cases(tiny_onnx_bundle):
    from compact.parity import run_parity

    seen = []
    report = run_parity([("a", IMAGES["random-48x80"])], tiny_onnx_bundle, seen.append)
    assert [row.backend for row in report.rows] == ["onnx"] and seen == report.rows
    assert report.failures == 0 and report.rows[0].precision == "fp32"
    skipped = " ".join(report.skipped)
    assert "coreml-reference" in skipped and "onnx-int8" in skipped and "--int8-decoder" in skipped


def test_images_too_large_for_one_pass_are_compared_through_the_codecs_tiles(tiny_onnx_bundle):
    from compact.errors import ConfigError
    from compact.parity import compare as parity_compare
    from compact.parity import run_parity

    wide = random_image(40, 2100, seed=5)  # wider than the largest whole-image side (2048): tiles
    report = run_parity([("wide", wide)], tiny_onnx_bundle)
    (row,) = report.rows
    assert row.ok and row.total_bits == 16 * 3 * 132 and row.flipped_bits == 0, row
    with pytest.raises(ConfigError, match="pass the model's channels"):
        parity_compare(get_backend("torch", tiny_onnx_bundle), get_backend("onnx", tiny_onnx_bundle), wide)
