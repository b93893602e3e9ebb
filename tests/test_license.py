"""Every place a user looks for COMPACT's terms says the same license and version."""

import json
from pathlib import Path

import pytest
import tomllib

import compact
from compact.about import LICENSE
from compact.manifest import ModelBundle, default_model_dir

ROOT = Path(__file__).resolve().parents[1]


def _onnx_metadata(path: Path) -> dict[str, str]:
    onnx = pytest.importorskip("onnx")
    return {prop.key: prop.value for prop in onnx.load(str(path), load_external_data=False).metadata_props}


def test_package_metadata_names_the_license():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == LICENSE and project["license-files"] == ["LICENSE"]
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    package = json.loads((ROOT / "compact" / "runtimes" / "web" / "package.json").read_text())
    assert package["license"] == LICENSE and package["version"] == compact.__version__


@pytest.mark.parametrize("bundle", ["default", "tiny"])
def test_every_exported_onnx_graph_carries_license_and_version(bundle, tiny_onnx_bundle):
    model = ModelBundle.load(default_model_dir()) if bundle == "default" else tiny_onnx_bundle
    assert model.manifest.license == LICENSE and model.manifest.compact_version == compact.__version__
    for role in ("onnx_encoder", "onnx_decoder"):
        meta = _onnx_metadata(model.file(role))
        assert meta["license"] == LICENSE, role
        assert meta["compact_version"] == compact.__version__, role
        assert meta["model_id"] == model.manifest.model_id and "MODEL_CARD" in meta["model_card"]


def test_the_check_fails_on_a_graph_without_terms(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])  # fmt: skip
    path = tmp_path / "bare.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert "license" not in _onnx_metadata(path)  # the negative control: a graph exported without the terms


def test_info_names_the_license_and_the_model_card():
    from typer.testing import CliRunner

    from compact.cli import app

    res = CliRunner().invoke(app, ["info", "--model", "default"])
    assert res.exit_code == 0, res.output
    assert LICENSE in res.output and "MODEL_CARD.md" in res.output and "research-use" in res.output
