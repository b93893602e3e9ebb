"""``compact export`` checks the files it wrote against torch and refuses them, writing nothing, when a bound fails."""

import numpy as np
import pytest

pytestmark = pytest.mark.coreml
pytest.importorskip("torch")
pytest.importorskip("coremltools")

from torch import nn  # noqa: E402

from compact.export import coreml_export  # noqa: E402


class _UnmaskedEncoder(nn.Module):
    """The encoder graph as exported before issue 16: it reads the padding as if it were image."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        import torch

        return torch.tanh(self.layers(x - 0.5))


def test_probe_images_are_photo_like_and_deterministic():
    from compact.export.check import CHECK_SIZES, probe_image

    a, b = probe_image(130, 100, seed=1), probe_image(130, 100, seed=1)
    assert a.shape == (130, 100, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert 20 < a.std() < 100 and probe_image(1, 1, seed=0).shape == (1, 1, 3)
    assert (1, 1) in CHECK_SIZES and any(h % 16 and w % 16 for h, w in CHECK_SIZES)


def test_a_wrong_core_ml_program_is_refused_and_nothing_is_written(tiny_checkpoint, tmp_path, monkeypatch):
    from compact.errors import ModelError
    from compact.export.bundle import export_model

    good = export_model(tiny_checkpoint, tmp_path / "model", target="all")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "model").rglob("*"))
    manifest = (tmp_path / "model" / "manifest.json").read_bytes()
    monkeypatch.setattr(coreml_export, "ValidRegionEncoder", _UnmaskedEncoder)
    with pytest.raises(ModelError, match=r"nothing was written.*coreml-reference \(fp16\) at 100x130"):
        export_model(tiny_checkpoint, tmp_path / "model", target="coreml")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "model").rglob("*")) == before
    assert (tmp_path / "model" / "manifest.json").read_bytes() == manifest and good.model_id
    with pytest.raises(ModelError):
        export_model(tiny_checkpoint, tmp_path / "fresh", target="coreml")
    assert not (tmp_path / "fresh").exists()
    export_model(tiny_checkpoint, tmp_path / "unchecked", target="coreml", check=False)  # --no-check writes it
    assert (tmp_path / "unchecked" / "encoder.mlpackage").is_dir()


def test_export_command_refuses_with_one_error_line(tiny_checkpoint, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from compact.cli import app

    monkeypatch.setattr(coreml_export, "ValidRegionEncoder", _UnmaskedEncoder)
    args = ["export", "-t", "coreml", "-c", str(tiny_checkpoint), "-o", str(tmp_path / "m")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and res.output.count("error:") == 1 and "Traceback" not in res.output, res.output
    assert "--no-check" in res.output and not (tmp_path / "m").exists()
    res = CliRunner().invoke(app, [*args, "--no-check"])
    assert res.exit_code == 0 and "checked against torch" not in res.output, res.output
    monkeypatch.undo()
    res = CliRunner().invoke(app, ["export", "-t", "all", "-c", str(tiny_checkpoint), "-o", str(tmp_path / "ok")])
    assert res.exit_code == 0, res.output
    assert "checked against torch: onnx, coreml-reference at 1x1, 100x130, 333x17: all 6 within" in res.output


def test_a_smooth_decoder_exports_and_passes_the_check(tmp_path):
    """--smooth-upsampling adds a fixed depthwise convolution; onnx and the Core ML program (padded inside
    its shapes at 100x130 and 333x17) must still give torch's numbers, or export_model raises."""
    import torch

    from compact.config import ModelConfig
    from compact.export.bundle import export_model
    from compact.training.checkpoint import save_weights
    from compact.training.model import CompactAutoencoder

    torch.manual_seed(3)
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, smooth_upsampling=True))
    save_weights(model, tmp_path / "weights.safetensors")
    manifest = export_model(tmp_path / "weights.safetensors", tmp_path / "model", target="all")
    assert manifest.config.smooth_upsampling
    assert not manifest.degrid  # its low-pass leaves no grid for the reader's filter to remove
    from compact.codec import Codec

    assert Codec(tmp_path / "model", "onnx").tiles.halo == 5  # its filters reach a cell further (tiling.py)
