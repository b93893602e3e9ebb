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
#: (height, width) that no Core ML shape lists, so the runtime pads inside the program: issue 16's sizes
UNLISTED = [(1, 1), (333, 17), (17, 333), (130, 100), (450, 300), (700, 500)]


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


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("height,width", UNLISTED)
def test_coreml_program_matches_torch_at_unlisted_sizes(exports, precision, height, width):
    from compact.export.mil_reference import MilReferenceBackend

    bundle = exports[precision]
    row = compare(get_backend("torch", bundle), MilReferenceBackend(bundle), natural_image(height, width, seed=height),
                  f"{width}x{height}", precision)  # fmt: skip
    assert row.ok, row
    if precision == "fp32":
        assert row.latent_max_abs_diff < 1e-4 and row.flipped_bits == 0 and row.decoder_psnr > 100, row


def test_edge_padding_inside_the_program_fails_the_bounds(exports, monkeypatch):
    """Negative control: what the runtime did before (edge pixels and edge code cells in the padding, so the
    networks see them) misses the fp32 bounds at an unlisted size."""
    from compact.export.mil_reference import MilReferenceBackend
    from compact.runtimes import coreml_shapes

    def edge(x, height, width, value):
        return np.pad(x, ((0, 0), (0, 0), (0, height - x.shape[2]), (0, width - x.shape[3])), mode="edge")

    monkeypatch.setattr(coreml_shapes, "pad_to", edge)
    bundle = exports["fp32"]
    row = compare(get_backend("torch", bundle), MilReferenceBackend(bundle), natural_image(130, 100, seed=130),
                  "100x130", "fp32")  # fmt: skip
    assert not row.ok and row.decoder_psnr < 45, row


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
    backend = MilReferenceBackend(bundle)
    backend.decoder = MilProgramExecutor(broken.root / "decoder.mlpackage")
    row = compare(get_backend("torch", bundle), backend, IMAGES["random-256x256"], "random", "fp16")
    assert not row.ok and not row.decoder_psnr >= 40.0  # NaN when the perturbation overflows float16


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


def _fp16_outputs(executor, image):
    """(op name, result) of every op the program types float16, in one run of the encoder."""
    seen = []
    executor.run({"image": image.transpose(2, 0, 1)[None] / np.float32(255)},
                 lambda name, result, fp16: seen.append((name, result)) if fp16 else None)  # fmt: skip
    return seen


def _not_representable(results):
    return sum(int(np.count_nonzero(r.astype(np.float16).astype(np.float32) != r)) for _, r in results)


def test_fp16_emulation_rounds_every_fp16_op(exports):
    """Every float16-typed op result is exactly a float16 value; without the rounding (the negative control)
    millions are not."""
    from compact.export.mil_reference import MilProgramExecutor

    image = natural_image(64, 96, seed=41)
    path = exports["fp16"].file("coreml_encoder")
    emulated = _fp16_outputs(MilProgramExecutor(path), image)
    assert len(emulated) > 20 and _not_representable(emulated) == 0
    assert _not_representable(_fp16_outputs(MilProgramExecutor(path, emulate_fp16=False), image)) > 1000


def test_fp16_program_is_measurably_less_exact_than_fp32(exports):
    """The fp16 program's latent is >= 100x further from torch than the fp32 program's (measured about 2,000x).
    Negative control: an "fp16" backend whose encoder program is really the fp32 one fails that."""
    from compact.export.mil_reference import MilProgramExecutor, MilReferenceBackend

    image = natural_image(256, 256, seed=40)
    torch_backend = get_backend("torch", exports["fp32"])

    def latent_diff(backend):
        return compare(torch_backend, backend, image, "n", "fp16").latent_max_abs_diff

    fp32, fp16 = latent_diff(MilReferenceBackend(exports["fp32"])), latent_diff(MilReferenceBackend(exports["fp16"]))
    assert fp16 >= 100 * fp32, (fp16, fp32)
    mislabelled = MilReferenceBackend(exports["fp16"])
    mislabelled.encoder = MilProgramExecutor(exports["fp32"].file("coreml_encoder"))
    assert not latent_diff(mislabelled) >= 100 * fp32


def test_grouped_convolution_matches_torch_and_a_swapped_group_order_does_not():
    """MIL's conv with groups > 1 (the smooth decoder's depthwise filter is one): several output channels per
    group, distinct filters, stride, dilation and uneven padding, against torch's conv2d."""
    import torch

    from compact.export.mil_reference import _conv

    rng = np.random.default_rng(11)
    x = rng.normal(size=(1, 6, 9, 11)).astype(np.float32)
    weight = rng.normal(size=(9, 2, 3, 3)).astype(np.float32)  # 3 groups: 2 in, 3 out each
    bias = rng.normal(size=9).astype(np.float32)

    def run(w: np.ndarray) -> np.ndarray:
        return _conv(x, w, strides=np.array([2, 1]), pad_type="custom", pad=np.array([1, 0, 2, 1]),
                     dilations=np.array([1, 2]), groups=3, bias=bias)  # fmt: skip

    padded = torch.nn.functional.pad(torch.from_numpy(x), (2, 1, 1, 0))  # (left, right, top, bottom)
    expected = torch.nn.functional.conv2d(padded, torch.from_numpy(weight), torch.from_numpy(bias), stride=(2, 1),
                                          dilation=(1, 2), groups=3).numpy()  # fmt: skip
    assert np.abs(run(weight) - expected).max() < 1e-5
    swapped = np.concatenate([weight[3:6], weight[:3], weight[6:]])  # groups 1 and 2 exchanged: the control
    assert np.abs(run(swapped) - expected).max() > 0.1
