"""Numeric parity of the exported Core ML programs on any OS, through the numpy reference executor."""

import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.coreml
pytest.importorskip("torch")

from conftest import natural_image, random_image  # noqa: E402

from compact.parity import BOUNDS, compare  # noqa: E402
from compact.runtimes import get_backend  # noqa: E402

IMAGES = {"random-256x256": random_image(256, 256, seed=21), "natural-512x768": natural_image(512, 768, seed=22)}


@pytest.fixture(scope="module")
def exports(default_coreml_exports):
    return default_coreml_exports


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", IMAGES)
def test_coreml_program_matches_torch(exports, precision, name):
    from compact.export.mil_reference import MilReferenceBackend

    bundle = exports[precision]
    backend = MilReferenceBackend(bundle)
    assert backend.precision == precision
    row = compare(get_backend("torch", bundle), backend, IMAGES[name], name, precision)
    bounds = BOUNDS[precision]
    assert row.decoder_psnr >= bounds.min_decoder_psnr, row
    assert row.flipped_fraction <= bounds.max_flipped, row
    if precision == "fp32":
        assert row.latent_max_abs_diff < 1e-4


def _perturb_first_decoder_conv(bundle, copy_root):
    """Overwrite one weight tensor inside the decoder's weight.bin with perturbed values."""
    from compact.manifest import ModelBundle
    from compact.training.checkpoint import load_model

    shutil.copytree(bundle.root, copy_root)
    model = load_model(bundle.file("weights"))
    weight = model.decoder.layers[0].conv.weight.detach().numpy().astype(np.float16)
    blob = copy_root / "decoder.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    data = bytearray(blob.read_bytes())
    start = bytes(data).find(weight.tobytes())
    assert start > 0, "weight tensor not found in the blob"
    perturbed = (weight.astype(np.float32) * 1.5 + 0.05).astype(np.float16)
    data[start : start + weight.nbytes] = perturbed.tobytes()
    blob.write_bytes(bytes(data))
    return ModelBundle(copy_root, bundle.manifest)  # same manifest: the check must catch it numerically


def test_a_perturbed_weight_is_caught(exports, tmp_path):
    from compact.export.mil_reference import MilProgramExecutor, MilReferenceBackend

    bundle = exports["fp16"]
    broken = _perturb_first_decoder_conv(bundle, tmp_path / "broken")
    backend = MilReferenceBackend.__new__(MilReferenceBackend)
    backend.encoder = MilProgramExecutor(bundle.file("coreml_encoder"))
    backend.decoder = MilProgramExecutor(broken.root / "decoder.mlpackage")
    row = compare(get_backend("torch", bundle), backend, IMAGES["random-256x256"], "random", "fp16")
    assert not row.ok and row.decoder_psnr < 40.0


def test_unknown_ops_fail_loudly_by_name(exports, monkeypatch):
    from compact.export import mil_reference

    monkeypatch.delitem(mil_reference.OPS, "tanh")
    with pytest.raises(mil_reference.UnsupportedOpError, match="'tanh'"):
        mil_reference.MilProgramExecutor(exports["fp32"].file("coreml_encoder"))


def test_fp16_intermediates_stay_in_range(exports):
    from compact.export.mil_reference import MilProgramExecutor

    enc = MilProgramExecutor(exports["fp16"].file("coreml_encoder"))
    latent = enc.run({"image": natural_image(256, 256, seed=23).transpose(2, 0, 1)[None] / np.float32(255)})
    assert np.all(np.isfinite(latent["latent"]))
    assert enc.peaks and max(enc.peaks.values()) < 65504 / 8  # fp16 max with a 8x margin


def test_parity_command_prints_the_table(exports, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from compact.cli import app

    path = tmp_path / "img.png"
    Image.fromarray(natural_image(256, 256, seed=24)).save(path)
    res = CliRunner().invoke(app, ["parity", "--model", str(exports["fp16"].root), str(path)])
    assert res.exit_code == 0, res.output
    rows = [line for line in res.output.splitlines() if line.startswith("img.png")]
    assert [r.split()[1:3] for r in rows] == [["onnx", "fp32"], ["coreml-reference", "fp16"]]
    assert all(r.endswith("yes") for r in rows)
