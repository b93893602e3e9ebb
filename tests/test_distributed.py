"""The Ray engine: byte-identical to the local engine, resumable, failures listed; the Dataset API.

Tests marked ``ray`` start a local Ray instance (2 CPUs) and are deselected by default; .ci/run runs them
with ``pytest -m ray``. The unmarked ones need neither Ray nor a cluster.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image
from typer.testing import CliRunner

from compact import batch
from compact.cli import app
from compact.codec import Codec
from compact.errors import CompactError

COUNT = 240  # generated photos, plus one with alpha and one broken file


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def files(root: Path, suffix: str) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob(f"*{suffix}"))}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ray") / "photos"
    for i in range(COUNT):
        path = root / f"set{i % 4}" / (f"img{i:03d}" + (".jpg" if i % 10 == 0 else ".png"))
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(natural_image(48, 64, seed=i)).save(path)
    alpha = np.linspace(0, 255, 48 * 64).astype(np.uint8).reshape(48, 64)
    Image.fromarray(np.dstack([natural_image(48, 64, seed=COUNT), alpha]), "RGBA").save(root / "rgba.png")
    (root / "set1" / "broken.png").write_bytes(b"\x89PNG truncated")
    return root


@pytest.fixture(scope="module")
def local_streams(photos: Path) -> Path:
    """The local engine's output: the reference every Ray result must match byte for byte."""
    out = photos.parent / "local"
    res = invoke("compress", photos, "-o", out, "--jobs", 2)
    assert res.exit_code == 1 and f"{COUNT + 1} done, 0 already done, 1 failed" in res.output, res.output
    return out


@pytest.fixture(scope="module")
def local_pngs(local_streams: Path) -> Path:
    out = local_streams.parent / "local_png"
    assert invoke("decompress", local_streams, "-o", out, "--jobs", 2).exit_code == 0
    return out


@pytest.fixture(scope="module")
def ray_session(local_streams: Path, local_pngs: Path):
    """Started after the local references: the local engine forks workers, which a process running Ray must not."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def test_engine_ray_without_the_extra_names_it(photos, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    res = invoke("compress", photos, "-o", tmp_path / "out", "--engine", "ray")
    assert res.exit_code == 1
    assert 'pip install "compact[distributed]"' in res.output


def test_engine_options_are_checked(photos, tmp_path):
    assert "unknown engine 'spark'" in invoke("compress", photos, "-o", tmp_path, "--engine", "spark").output
    assert "need --engine ray" in invoke("decompress", photos, "-o", tmp_path, "--address", "auto").output


def test_plan_mirrors_the_tree_as_the_local_engine_does(photos, tmp_path):
    pytest.importorskip("pyarrow")
    from compact.distributed import plan

    single = tmp_path / "single.png"
    Image.fromarray(natural_image(16, 16)).save(single)
    layout, jobs = plan([str(photos), str(single)], str(tmp_path / "out"), "compress")
    local = batch.plan([photos, single], tmp_path / "out", "compress")
    assert [(src, dst) for src, dst in jobs] == [(str(j.src), str(j.dst)) for j in local]
    assert layout.manifest == str(tmp_path / "out" / batch.FAILED_MANIFEST)
    with pytest.raises(CompactError, match="inside the input folder"):
        plan([str(photos), str(photos / "set1")], str(tmp_path / "out"), "compress")


@pytest.mark.ray
def test_ray_compress_is_byte_identical_resumable_and_lists_failures(ray_session, photos, local_streams):
    out = photos.parent / "ray"
    res = invoke("compress", photos, "-o", out, "--engine", "ray", "--jobs", 2)
    assert res.exit_code == 1, res.output
    assert f"{COUNT + 1} done, 0 already done, 1 failed" in res.output
    assert files(out, ".cpt") == files(local_streams, ".cpt")
    failed = [json.loads(line) for line in (out / batch.FAILED_MANIFEST).read_text().splitlines()]
    assert [Path(f["path"]).name for f in failed] == ["broken.png"] and "cannot read image" in failed[0]["error"]
    assert not list(out.rglob("*.partial"))

    # As after a kill: some outputs missing, one cut short, a temporary file left behind; the input fixed.
    for name in ("set0/img000.cpt", "set3/img123.cpt", "rgba.cpt"):
        (out / name).unlink()
    (out / "set2/img002.cpt").write_bytes((out / "set2/img002.cpt").read_bytes()[:-5])
    (out / "set1/.img001.cpt.partial").write_bytes(b"half")
    (photos / "set1" / "broken.png").unlink()
    try:
        res = invoke("compress", photos, "-o", out, "--engine", "ray")
    finally:
        (photos / "set1" / "broken.png").write_bytes(b"\x89PNG truncated")
    assert res.exit_code == 0, res.output
    assert f"4 done, {COUNT - 3} already done, 0 failed" in res.output
    assert files(out, ".cpt") == files(local_streams, ".cpt")
    assert not (out / batch.FAILED_MANIFEST).exists()


@pytest.mark.ray
def test_ray_decompress_is_byte_identical(ray_session, local_streams, local_pngs):
    ray = local_streams.parent / "ray_png"
    res = invoke("decompress", local_streams, "-o", ray, "--engine", "ray", "--jobs", 1)
    assert res.exit_code == 0, res.output
    decoded = files(ray, ".png")
    assert len(decoded) == COUNT + 1 and decoded == files(local_pngs, ".png")
    assert Image.open(ray / "rgba.png").mode == "RGBA"


@pytest.mark.ray
def test_dataset_api_round_trip(ray_session, photos, local_streams):
    import ray.data

    from compact.distributed import Workers, compress_dataset, decompress_dataset

    chosen = [*sorted(photos.glob("set0/*.png"))[:30], photos / "rgba.png", photos / "set1" / "broken.png"]
    paths = [str(p) for p in chosen]
    ds = ray.data.read_binary_files(paths, include_paths=True)
    compressed = compress_dataset(ds).materialize()  # the default pool autoscales, leaving CPUs to the reads
    rows = {row["path"]: row for row in compressed.iter_rows()}
    broken = rows.pop(str(photos / "set1" / "broken.png"))
    assert "cannot read image" in broken["error"] and broken["data"] == b""
    expected = {str(photos / k): v for k, v in files(local_streams, ".cpt").items()}
    assert {path: row["data"] for path, row in rows.items()} == {p: expected[p.replace(".png", ".cpt")] for p in rows}
    assert all(row["error"] == "" for row in rows.values())

    records = [{"path": path, "data": row["data"]} for path, row in rows.items()]
    streams = ray.data.from_items([*records, {"path": "bad", "data": b"x"}])
    decoded = {row["path"]: row for row in decompress_dataset(streams, workers=Workers(count=1)).iter_rows()}
    assert decoded.pop("bad")["error"]
    codec = Codec("default", "onnx")
    for path, row in decoded.items():
        assert np.array_equal(row["image"], np.asarray(codec.decompress(rows[path]["data"])))
    assert decoded[str(photos / "rgba.png")]["image"].shape == (48, 64, 4)

    arrays = ray.data.from_items([{"image": natural_image(48, 64, seed=7)}])
    (row,) = compress_dataset(arrays, workers=Workers(count=1)).take_all()
    assert row["data"] == codec.compress(natural_image(48, 64, seed=7))
