import json
import shutil

import pytest

from compact.errors import ModelError
from compact.manifest import MANIFEST_NAME, ModelBundle, default_model_dir, resolve_model


def test_shipped_model_is_complete_and_verified():
    bundle = resolve_model("default")
    assert bundle.root == default_model_dir()
    for role in ("weights", "onnx_encoder", "onnx_decoder"):
        assert bundle.file(role).is_file()  # .file() checks the recorded SHA-256
    config = bundle.manifest.config
    assert config.stride == 16 and config.qualities >= 4
    assert config.channels_for(None) == 16  # the default quality is the paper's 16-plane operating point
    assert config.levels[-1] >= 4 * config.levels[0]  # the levels span at least 4x in raw rate


@pytest.fixture
def model_copy(tmp_path):
    dst = tmp_path / "m"
    shutil.copytree(default_model_dir(), dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_missing_folder_or_manifest(tmp_path):
    with pytest.raises(ModelError, match="no manifest.json"):
        resolve_model(tmp_path)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda d: d.update(manifest_version=99), "manifest version"),
        (lambda d: d.update(model_id="xyz"), "model id"),
        (lambda d: d.update(bit_order="lsb"), "bit order"),
        (lambda d: d.pop("config"), "invalid manifest"),
    ],
)
def test_bad_manifests(model_copy, edit, match):
    data = json.loads((model_copy / MANIFEST_NAME).read_text())
    edit(data)
    (model_copy / MANIFEST_NAME).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=match):
        ModelBundle.load(model_copy)


def test_unparsable_manifest(model_copy):
    (model_copy / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelError, match="invalid manifest"):
        ModelBundle.load(model_copy)


def test_missing_or_unlisted_files(model_copy):
    (model_copy / "encoder.onnx").unlink()
    bundle = ModelBundle.load(model_copy)
    with pytest.raises(ModelError, match="missing"):
        bundle.file("onnx_encoder")
    with pytest.raises(ModelError, match="coreml encoder"):
        bundle.file("coreml_encoder")
