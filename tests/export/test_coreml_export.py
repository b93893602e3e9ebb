import pytest

pytestmark = pytest.mark.coreml
pytest.importorskip("torch")

import compact  # noqa: E402
from compact.about import AUTHOR, LICENSE  # noqa: E402
from compact.runtimes.coreml_shapes import DEFAULT_SHAPE, IMAGE_SHAPES  # noqa: E402


@pytest.fixture(scope="module")
def coreml_exports(tiny_checkpoint, tmp_path_factory):
    pytest.importorskip("coremltools")
    from compact.export.bundle import export_model
    from compact.manifest import ModelBundle

    out = {}
    for precision in ("fp16", "fp32"):
        root = tmp_path_factory.mktemp(f"coreml_{precision}")
        export_model(tiny_checkpoint, root, target="all", precision=precision)
        out[precision] = ModelBundle.load(root)
    return out


@pytest.mark.parametrize("precision", ["fp16", "fp32"])
@pytest.mark.parametrize(
    "role,inp,out,channels,div",
    [("coreml_encoder", "image", "latent", 3, 1), ("coreml_decoder", "bits", "image", 16, 16)],
)
def test_mlpackage_spec(coreml_exports, precision, role, inp, out, channels, div):
    import coremltools as ct
    from coremltools.proto import FeatureTypes_pb2 as ft

    bundle = coreml_exports[precision]
    model = ct.models.MLModel(str(bundle.file(role)), skip_model_load=True)
    spec = model.get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"
    (i,), (o,) = spec.description.input, spec.description.output
    assert (i.name, o.name) == (inp, out)
    assert i.type.multiArrayType.dataType == ft.ArrayFeatureType.FLOAT32
    assert o.type.multiArrayType.dataType == ft.ArrayFeatureType.FLOAT32
    shapes = [tuple(s.shape) for s in i.type.multiArrayType.enumeratedShapes.shapes]
    assert sorted(shapes) == sorted((1, channels, h // div, w // div) for h, w in IMAGE_SHAPES)
    assert tuple(i.type.multiArrayType.shape) == (1, channels, DEFAULT_SHAPE[0] // div, DEFAULT_SHAPE[1] // div)
    meta = spec.description.metadata
    assert meta.userDefined["model_id"] == bundle.manifest.model_id
    assert meta.shortDescription and meta.versionString == compact.__version__
    assert meta.license.startswith(LICENSE) and meta.author == AUTHOR
    assert meta.userDefined["license"] == LICENSE and meta.userDefined["compact_version"] == compact.__version__
    assert spec.description.input[0].shortDescription and spec.description.output[0].shortDescription
    ops = {op.type for f in spec.mlProgram.functions.values() for b in f.block_specializations.values()
           for op in b.operations}  # fmt: skip
    assert {"conv", "mul"} <= ops and "conv_transpose" not in ops
    casts = [op for f in spec.mlProgram.functions.values() for b in f.block_specializations.values()
             for op in b.operations if op.type == "cast" and op.inputs["x"].arguments[0].name == inp]  # fmt: skip
    assert bool(casts) == (precision == "fp16")  # fp16 programs cast the float32 input down


def test_precision_recorded_and_fp16_weights_halve_size(coreml_exports):
    sizes = {}
    for precision, bundle in coreml_exports.items():
        assert bundle.manifest.coreml["precision"] == precision
        assert bundle.manifest.coreml["shapes"] == "enumerated"
        assert bundle.manifest.coreml["border"] == "valid-region"
        weights = bundle.file("coreml_decoder") / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
        sizes[precision] = weights.stat().st_size
    assert sizes["fp16"] < 0.6 * sizes["fp32"]
