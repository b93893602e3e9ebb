import json

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image

pytest.importorskip("pytorch_msssim")
pytest.importorskip("bjontegaard")

from compact.codec import Codec  # noqa: E402
from compact.errors import DataError  # noqa: E402
from compact.evaluation.harness import check_codecs, evaluate, load_images, measure_image  # noqa: E402
from compact.evaluation.msssim import msssim  # noqa: E402
from compact.evaluation.reference_codecs import JPEG, REFERENCE_CODECS  # noqa: E402
from compact.evaluation.run import OUTPUTS, run_eval  # noqa: E402
from compact.metrics import psnr  # noqa: E402


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_images")
    for i in range(2):
        Image.fromarray(natural_image(176, 208, seed=20 + i)).save(root / f"img{i}.png")
    return root


def test_identical_images_score_maximal_and_distortion_scores_lower():
    rgb = natural_image(192, 192, seed=1)
    assert psnr(rgb, rgb) == float("inf")
    assert msssim(rgb, rgb) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(0)
    scores = []
    for sigma in (2, 8, 32):
        noisy = np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)
        scores.append((psnr(rgb, noisy), msssim(rgb, noisy)))
    assert scores[0][0] > scores[1][0] > scores[2][0]
    assert 1.0 > scores[0][1] > scores[1][1] > scores[2][1]
    with pytest.raises(ValueError, match="161"):
        msssim(rgb[:100], rgb[:100])


@pytest.mark.parametrize("name", sorted(REFERENCE_CODECS))
def test_reference_codec_bytes_are_its_real_files(name, tmp_path):
    codec = REFERENCE_CODECS[name]
    if not codec.available():
        pytest.skip(f"Pillow lacks {name}")
    rgb = natural_image(64, 96, seed=2)
    lo, hi = codec.encode(rgb, codec.settings[0]), codec.encode(rgb, codec.settings[-1])
    path = tmp_path / f"x.{name}"
    path.write_bytes(lo)
    with Image.open(path) as reopened:  # a file Pillow (and so any viewer) opens, not a fragment
        assert reopened.size == (96, 64)
    assert len(lo) < len(hi)
    assert psnr(rgb, codec.decode(lo)) < psnr(rgb, codec.decode(hi))


def test_sweep_measures_compact_from_its_container_bytes(images):
    codec = Codec("default", backend="onnx")
    loaded = load_images(images)
    rows = evaluate(loaded, ["compact", "jpeg"], backend="onnx")
    compact_rows = [r for r in rows if r.codec == "compact"]
    assert len(compact_rows) == 2 * codec.qualities
    assert len([r for r in rows if r.codec == "jpeg"]) == 2 * len(JPEG.settings)
    for row in compact_rows:
        rgb = dict(loaded)[row.image]
        data = codec.compress(rgb, quality=int(row.setting))
        assert row.bytes == len(data)
        assert row.bpp == pytest.approx(8 * len(data) / (rgb.shape[0] * rgb.shape[1]))
        assert row.psnr == pytest.approx(psnr(rgb, codec.decompress_array(data)))
        assert 0 < row.msssim < 1


def test_worker_processes_give_the_same_rows(images):
    loaded = load_images(images)
    here = [row for name, rgb in loaded for row in measure_image(name, rgb, ["compact", "webp"], Codec(backend="onnx"))]
    assert evaluate(loaded, ["compact", "webp"], backend="onnx", jobs=2) == here


def test_bad_inputs_are_clear_errors(tmp_path, images):
    with pytest.raises(DataError, match="unknown codec"):
        check_codecs(["compact", "gif"])
    with pytest.raises(DataError, match="not found"):
        load_images(tmp_path / "missing")
    Image.fromarray(natural_image(64, 64)).save(tmp_path / "small.png")
    with pytest.raises(DataError, match="MS-SSIM needs"):
        load_images(tmp_path)


def test_run_eval_writes_every_output_and_a_rerun_replaces_the_report(images, tmp_path):
    out = tmp_path / "out"
    summary = run_eval(images, ["compact", "jpeg", "webp"], out, backend="onnx")
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    assert json.loads((out / "summary.json").read_text())["images"] == summary["images"] == 2
    assert (out / "rd_psnr.png").read_bytes().startswith(b"\x89PNG")
    assert "| JPEG |" in (out / "summary.md").read_text()
    (out / "notes.txt").write_text("mine")
    before = (out / "summary.json").read_bytes()
    run_eval(images, ["jpeg"], out, backend="onnx")
    assert (out / "summary.json").read_bytes() != before  # replaced by the second run's report
    assert (out / "notes.txt").read_text() == "mine"


def test_eval_with_refinement_reaches_the_workers_and_says_so(images, tmp_path):
    pytest.importorskip("torch")
    plain = run_eval(images, ["compact"], tmp_path / "plain", backend="onnx")
    refined = run_eval(images, ["compact"], tmp_path / "refined", backend="onnx", refine=20)
    assert refined["model"]["refine"] == 20 and plain["model"]["refine"] == 0
    assert refined["curves"]["compact"] != plain["curves"]["compact"]  # the workers refined the codes
    assert "`--refine 20`" in (tmp_path / "refined" / "summary.md").read_text()
    assert "--refine" not in (tmp_path / "plain" / "summary.md").read_text()
