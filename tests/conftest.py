"""Shared fixtures. Tests make their own images; nothing here reads ../shared/data."""

from __future__ import annotations

import importlib.util
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    import torch

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_COREMLTOOLS = importlib.util.find_spec("coremltools") is not None
#: the seed of the fuzz and property tests: new each run unless COMPACT_FUZZ_SEED replays one
FUZZ_SEED = int(os.environ.get("COMPACT_FUZZ_SEED") or secrets.randbits(32))


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzz seed: {FUZZ_SEED} (replay with COMPACT_FUZZ_SEED={FUZZ_SEED})"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    terminalreporter.write_line(pytest_report_header(config))  # also under -q, which hides the header


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "macos" in item.keywords and sys.platform != "darwin":
            item.add_marker(pytest.mark.skip(reason="Core ML prediction runs only on macOS"))
        if "coreml" in item.keywords and not HAS_COREMLTOOLS:
            item.add_marker(pytest.mark.skip(reason="coremltools is not installed (pip install 'compact[export]')"))


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like test image: smooth colour fields, hard-edged shapes and fine texture (HxWx3 uint8)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3))
    for scale in (4, 16, 64):  # smooth fields at several scales, upsampled from coarse grids
        grid = rng.random((height // scale + 2, width // scale + 2, 3))
        field = np.asarray(Image.fromarray((grid * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC))
        img += field / 255.0 * (scale / 84)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(6):  # discs and boxes with sharp edges
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(4, max(5, min(height, width) // 3))
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        mask = disc if rng.random() < 0.5 else (abs(yy - cy) < r) & (abs(xx - cx) < r)
        img[mask] = img[mask] * 0.3 + rng.random(3) * 0.7
    img += rng.normal(0, 0.02, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def default_bundle():
    from compact.manifest import resolve_model

    return resolve_model("default")


def tiny_model_with_loose_subpixels(seed: int, scale: float, bias_scale: float = 0.0,
                                    smooth: bool = False) -> torch.nn.Module:  # fmt: skip
    """A small random model (N=8, C=16) in eval mode whose up-convolutions' sub-pixel filters disagree by
    ``scale`` of noise, as training leaves them (their initialisation makes them agree); torch's RNG is seeded
    with ``seed`` first, so what a test draws after this is fixed too."""
    torch = pytest.importorskip("torch")
    from compact.config import ModelConfig
    from compact.training.model import CompactAutoencoder, UpConv

    torch.manual_seed(seed)
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, smooth_upsampling=smooth)).eval()
    with torch.no_grad():
        for layer in model.decoder.layers:
            if isinstance(layer, UpConv):
                layer.conv.weight.add_(scale * torch.randn_like(layer.conv.weight))
                layer.conv.bias.add_(bias_scale * torch.randn_like(layer.conv.bias))
    return model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small randomly initialised model (N=8), quick to export."""
    pytest.importorskip("torch")
    import torch

    from compact.config import ModelConfig
    from compact.training.checkpoint import save_weights
    from compact.training.model import CompactAutoencoder

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "weights.safetensors"
    save_weights(CompactAutoencoder(ModelConfig(channels=8, latent_channels=16)), path)
    return path


@pytest.fixture(scope="session")
def tiny_onnx_bundle(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("onnx")
    from compact.export.bundle import export_model
    from compact.manifest import ModelBundle

    out = tmp_path_factory.mktemp("tiny_export")
    export_model(tiny_checkpoint, out, target="onnx")
    return ModelBundle.load(out)


@pytest.fixture(scope="session")
def tiny_levels_bundle(tmp_path_factory: pytest.TempPathFactory):
    """A small random model with three quality levels (4, 8, 16 channels), exported to ONNX."""
    pytest.importorskip("onnx")
    import torch

    from compact.config import ModelConfig
    from compact.export.bundle import export_model
    from compact.manifest import ModelBundle
    from compact.training.checkpoint import save_weights
    from compact.training.model import CompactAutoencoder

    torch.manual_seed(1)
    root = tmp_path_factory.mktemp("tiny_levels")
    save_weights(CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, levels=(4, 8, 16))),
                 root / "weights.safetensors")  # fmt: skip
    export_model(root / "weights.safetensors", root / "model", target="onnx")
    return ModelBundle.load(root / "model")


@pytest.fixture(scope="session")
def default_coreml_exports(tmp_path_factory: pytest.TempPathFactory):
    """The shipped model exported to ONNX and Core ML, once per precision."""
    pytest.importorskip("torch")
    pytest.importorskip("coremltools")
    from compact.export.bundle import export_model
    from compact.manifest import ModelBundle, default_model_dir

    out = {}
    for precision in ("fp16", "fp32"):
        root = tmp_path_factory.mktemp(f"default_{precision}")
        export_model(default_model_dir() / "weights.safetensors", root, target="all", precision=precision)
        out[precision] = ModelBundle.load(root)
    return out
