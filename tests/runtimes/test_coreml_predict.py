"""Core ML predictions against torch: run on macOS only (Core ML cannot predict on Linux)."""

import numpy as np
import pytest

pytestmark = [pytest.mark.macos, pytest.mark.coreml]


@pytest.fixture(scope="module")
def coreml_bundle(tiny_checkpoint, tmp_path_factory):
    from compact.export.bundle import export_model
    from compact.manifest import ModelBundle

    root = tmp_path_factory.mktemp("coreml_predict")
    export_model(tiny_checkpoint, root, target="all", precision="fp32")
    return ModelBundle.load(root)


def test_coreml_fp32_matches_torch(coreml_bundle):
    from conftest import natural_image

    from compact.image import to_model_input
    from compact.metrics import psnr
    from compact.runtimes import get_backend

    x = to_model_input(natural_image(96, 160, seed=5))
    ref, cml = get_backend("torch", coreml_bundle), get_backend("coreml", coreml_bundle)
    lat_ref, lat_cml = ref.encode(x), cml.encode(x)
    assert float(np.mean((lat_ref >= 0) != (lat_cml >= 0))) <= 1e-3
    bits = np.where(lat_ref >= 0, 1.0, -1.0).astype(np.float32)
    assert psnr(ref.decode(bits), cml.decode(bits), peak=1.0) >= 40.0
