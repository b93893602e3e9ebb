import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

import onnxruntime as ort  # noqa: E402

from compact.errors import ModelError  # noqa: E402
from compact.manifest import MANIFEST_NAME, ModelBundle  # noqa: E402


def test_a_plain_decoders_manifest_asks_readers_for_the_grid_filter(tiny_onnx_bundle):
    assert tiny_onnx_bundle.manifest.degrid  # the sub-pixel decoder's grid (compact/degrid.py)


def test_both_halves_pass_the_full_checker_with_named_io(tiny_onnx_bundle):
    for role, inp, out in (("onnx_encoder", "image", "latent"), ("onnx_decoder", "bits", "image")):
        model = onnx.load(tiny_onnx_bundle.file(role))
        onnx.checker.check_model(model, full_check=True)
        assert [i.name for i in model.graph.input] == [inp]
        assert [o.name for o in model.graph.output] == [out]
        assert model.opset_import[0].version == 20
        meta = {p.key: p.value for p in model.metadata_props}
        assert meta["model_id"] == tiny_onnx_bundle.manifest.model_id
        ops = {n.op_type for n in model.graph.node}
        assert "ConvTranspose" not in ops and "Pad" not in ops  # padding and binarization live outside


def test_dynamic_height_and_width(tiny_onnx_bundle):
    enc = ort.InferenceSession(str(tiny_onnx_bundle.file("onnx_encoder")))
    dec = ort.InferenceSession(str(tiny_onnx_bundle.file("onnx_decoder")))
    for h, w in ((16, 16), (48, 80), (160, 32)):
        latent = enc.run(None, {"image": np.random.rand(1, 3, h, w).astype(np.float32)})[0]
        assert latent.shape == (1, 16, h // 16, w // 16)
        assert dec.run(None, {"bits": np.sign(latent + 1e-9).astype(np.float32)})[0].shape == (1, 3, h, w)


def test_manifest_lists_files_with_hashes_and_versions(tiny_onnx_bundle):
    m = tiny_onnx_bundle.manifest
    assert m.config.channels == 8 and m.config.latent_channels == 16 and m.config.stride == 16
    assert set(m.files) == {"weights", "onnx_encoder", "onnx_decoder"}
    assert set(m.hashes) == set(m.files.values())
    assert {"torch", "onnx"} <= set(m.exporters)
    assert m.onnx_opset == 20 and len(m.model_id) == 16
    data = json.loads((tiny_onnx_bundle.root / MANIFEST_NAME).read_text())
    assert data["bit_order"] == "chw-c-order;plus1=1;msb-first"


def test_tampered_model_file_is_rejected(tiny_onnx_bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_onnx_bundle.root, copy)
    with open(copy / "decoder.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="hash"):
        ModelBundle.load(copy).file("onnx_decoder")


def test_failed_export_leaves_the_previous_one_intact(tiny_checkpoint, tmp_path, monkeypatch):
    import compact.export.onnx_export as onnx_export
    from compact.errors import ModelError as Err
    from compact.export.bundle import export_model

    out = tmp_path / "model"
    export_model(tiny_checkpoint, out, target="onnx")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_export, "export_onnx", broken)
    with pytest.raises(RuntimeError):
        export_model(tiny_checkpoint, out, target="onnx")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]
    ModelBundle.load(out).file("onnx_decoder")
    with pytest.raises(Err, match="not a usable COMPACT checkpoint"):
        export_model(out / "manifest.json", tmp_path / "other")
