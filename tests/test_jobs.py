"""compact.jobs: the CLI's file, folder and Ray dispatch as one library call."""

import pytest
from conftest import natural_image
from PIL import Image

from compact import CodecSpec, JobOptions, compress_files, decompress_files
from compact.errors import CompactError


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    Image.fromarray(natural_image(40, 56, seed=1)).save(root / "a.png")
    Image.fromarray(natural_image(33, 20, seed=2)).save(root / "sub" / "b.png")
    return root


def test_folder_job_in_one_call_mirrors_and_resumes(photos, tmp_path):
    spec = CodecSpec(backend="onnx")
    summary = compress_files([photos], tmp_path / "out", spec, JobOptions(workers=1))
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, [])
    assert (tmp_path / "out" / "sub" / "b.cpt").is_file()
    again = compress_files([photos], tmp_path / "out", spec, JobOptions(workers=1))
    assert (again.done, again.skipped) == (0, 2)
    back = decompress_files([tmp_path / "out"], tmp_path / "dec", spec, JobOptions(workers=1))
    assert back.done == 2 and Image.open(tmp_path / "dec" / "sub" / "b.png").size == (20, 33)


def test_single_file_job_and_its_output_name(photos):
    summary = compress_files([photos / "a.png"], None, CodecSpec(backend="onnx"))
    assert summary.done == 1 and (photos / "a.cpt").is_file()
    assert decompress_files([photos / "a.cpt"]).done == 1 and (photos / "a.decoded.png").is_file()


@pytest.mark.parametrize(
    "make",
    [lambda: JobOptions(engine="spark"), lambda: JobOptions(address="auto"), lambda: JobOptions(workers=0),
     lambda: CodecSpec(max_pixels=-1), lambda: CodecSpec(quality=0)],  # fmt: skip
)
def test_bad_options_are_the_projects_errors(make):
    with pytest.raises(CompactError):
        make()


def test_max_pixels_zero_means_no_limit():
    assert CodecSpec(max_pixels=0).max_pixels is None
