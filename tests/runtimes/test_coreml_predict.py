"""Core ML predictions against torch, through MLModel.predict and onnxruntime's Core ML EP.

These run only on macOS (Core ML cannot predict elsewhere); .github/workflows/macos.yml runs them on
Apple Silicon. On Linux the numeric check of the same programs is tests/export/test_mil_reference.py.
"""

import pytest

pytestmark = [pytest.mark.macos, pytest.mark.coreml]

from conftest import natural_image, random_image  # noqa: E402

IMAGES = {"random-256x256": random_image(256, 256, seed=31), "natural-512x768": natural_image(512, 768, seed=32)}
# Sizes no Core ML shape lists (the runtime pads inside the program), as in tests/export/test_mil_reference.py.
IMAGES |= {f"natural-{w}x{h}": natural_image(h, w, seed=h) for h, w in [(1, 1), (333, 17), (17, 333), (130, 100),
                                                                       (450, 300), (700, 500)]}  # fmt: skip


@pytest.fixture(scope="module")
def exports(default_coreml_exports):
    return default_coreml_exports


@pytest.mark.parametrize("units", ["CPU_ONLY", "CPU_AND_GPU", "ALL"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("name", IMAGES)
def test_mlmodel_predict_matches_torch(exports, units, precision, name):
    from compact.parity import compare
    from compact.runtimes import get_backend
    from compact.runtimes.coreml_backend import CoreMLBackend

    bundle = exports[precision]
    # The GPU and Neural Engine compute in fp16 whatever the program says, so only CPU_ONLY is held to fp32 bounds.
    bounds = precision if units == "CPU_ONLY" else "fp16"
    row = compare(get_backend("torch", bundle), CoreMLBackend(bundle, units), IMAGES[name], name, bounds)
    assert row.ok, row


@pytest.mark.parametrize("name", IMAGES)
def test_onnxruntime_coreml_execution_provider_matches_torch(exports, name):
    import onnxruntime as ort

    from compact.parity import compare
    from compact.runtimes import get_backend
    from compact.runtimes.onnxruntime_backend import OnnxBackend

    if "CoreMLExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime build has no CoreMLExecutionProvider")
    bundle = exports["fp32"]
    backend = OnnxBackend(bundle, providers=["CoreMLExecutionProvider", "CPUExecutionProvider"])
    row = compare(get_backend("torch", bundle), backend, IMAGES[name], name, "fp16")
    assert row.ok, row


def test_run_command_on_coreml(exports, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from compact.cli import app

    path = tmp_path / "img.png"
    Image.fromarray(IMAGES["natural-512x768"]).save(path)
    res = CliRunner().invoke(app, ["run", "-b", "coreml", "--model", str(exports["fp16"].root), "-o", str(tmp_path),
                                   str(path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "backend coreml" in res.output
