"""Batch mode: folder trees mirrored, parallel workers, resumable, bad files reported, non-zero exit."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import natural_image
from PIL import Image
from typer.testing import CliRunner

from compact import batch, container
from compact.cli import app


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "photos"
    for rel in ("a.png", "sub/b.jpg", "sub/deeper/c.png", "d.png"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(natural_image(32, 48, seed=len(rel))).save(path)
    (root / "notes.txt").write_text("not an image, ignored")
    return root


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_compress_and_decompress_trees_mirror_the_layout(tree, tmp_path):
    res = invoke("compress", tree, "-o", tmp_path / "cpt", "--jobs", 2)
    assert res.exit_code == 0, res.output
    streams = sorted(p.relative_to(tmp_path / "cpt").as_posix() for p in (tmp_path / "cpt").rglob("*.cpt"))
    assert streams == ["a.cpt", "d.cpt", "sub/b.cpt", "sub/deeper/c.cpt"]
    assert "4 done, 0 already done, 0 failed" in res.output
    res = invoke("decompress", tmp_path / "cpt", "-o", tmp_path / "png", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "png" / "sub" / "deeper" / "c.png").size == (48, 32)


def test_rerun_resumes_and_redoes_broken_outputs(tree, tmp_path):
    out = tmp_path / "cpt"
    assert invoke("compress", tree, "-o", out, "--jobs", 1).exit_code == 0
    (out / "a.cpt").unlink()  # as if interrupted before this file
    (out / "d.cpt").write_bytes((out / "d.cpt").read_bytes()[:-3])  # a corrupt leftover is not "done"
    res = invoke("compress", tree, "-o", out, "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert "2 done, 2 already done, 0 failed" in res.output
    for path in out.rglob("*.cpt"):
        container.read(path.read_bytes())


def test_bad_files_are_reported_and_the_batch_goes_on(tree, tmp_path):
    (tree / "sub" / "broken.png").write_bytes(b"\x89PNG truncated")
    res = invoke("compress", tree, "-o", tmp_path / "cpt", "--jobs", 2)
    assert res.exit_code == 1
    assert "4 done, 0 already done, 1 failed" in res.output and "broken.png" in res.output
    assert not (tmp_path / "cpt" / "sub" / "broken.cpt").exists()
    assert not list((tmp_path / "cpt").rglob("*.partial"))


def test_folder_needs_an_output_folder(tree):
    res = invoke("compress", tree)
    assert res.exit_code == 1 and "give an output folder" in res.output


def test_two_inputs_for_one_output_are_refused(tree):
    (tree / "a.jpg").write_bytes((tree / "a.png").read_bytes())
    res = invoke("compress", tree / "a.png", tree / "a.jpg")
    assert res.exit_code == 1 and "would both write" in res.output


def test_outputs_of_another_model_are_redone(tree, tmp_path):
    out = tmp_path / "cpt"
    assert invoke("compress", tree, "-o", out, "-j", 1).exit_code == 0
    data = bytearray((out / "a.cpt").read_bytes())
    data[6:14] = bytes(8)  # as if written by another model
    import struct
    import zlib

    (out / "a.cpt").write_bytes(bytes(data[:-4]) + struct.pack(">I", zlib.crc32(bytes(data[:-4]))))
    res = invoke("compress", tree, "-o", out, "-j", 1)
    assert "1 done, 3 already done" in res.output


def test_bad_model_fails_once_before_any_worker(tree, tmp_path):
    res = invoke("compress", tree, "-o", tmp_path / "cpt", "-j", 2, "-m", tmp_path / "nope")
    assert res.exit_code == 1 and "no manifest.json" in res.output and "Traceback" not in res.output


def test_plan_maps_single_files_beside_themselves(tree):
    jobs = batch.plan([tree / "a.png", tree / "d.png"], None, "compress")
    assert [j.dst for j in jobs] == [tree / "a.cpt", tree / "d.cpt"]


def test_failures_are_listed_in_a_manifest_that_a_clean_rerun_removes(tree, tmp_path):
    out = tmp_path / "cpt"
    (tree / "broken.png").write_bytes(b"\x89PNG truncated")
    assert invoke("compress", tree, "-o", out, "-j", 1).exit_code == 1
    (line,) = (out / batch.FAILED_MANIFEST).read_text().splitlines()
    assert json.loads(line)["path"] == str(tree / "broken.png") and "cannot read image" in json.loads(line)["error"]
    (tree / "broken.png").unlink()
    assert invoke("compress", tree, "-o", out, "-j", 1).exit_code == 0
    assert not (out / batch.FAILED_MANIFEST).exists()


def test_files_sharing_a_stem_in_a_folder_keep_their_whole_names(tree, tmp_path):
    Image.fromarray(natural_image(20, 24, seed=3)).save(tree / "a.tif")  # beside a.png
    res = invoke("compress", tree, "-o", tmp_path / "cpt", "-j", 1)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cpt" / "a.png.cpt").is_file() and (tmp_path / "cpt" / "a.tif.cpt").is_file()
    assert (tmp_path / "cpt" / "d.cpt").is_file()  # stems used once keep the short name
    res = invoke("decompress", tmp_path / "cpt", "-o", tmp_path / "png", "-j", 1)
    assert res.exit_code == 0 and Image.open(tmp_path / "png" / "a.tif.png").size == (24, 20)


def test_every_type_pillow_opens_is_tried_and_the_rest_is_listed(tree, tmp_path):
    Image.fromarray(natural_image(16, 16, seed=4)).save(tree / "e.ppm")
    Image.fromarray(natural_image(16, 16, seed=5)).save(tree / "f.tga")
    res = invoke("compress", tree, "-o", tmp_path / "cpt", "-j", 1)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cpt" / "e.cpt").is_file() and (tmp_path / "cpt" / "f.cpt").is_file()
    assert "not tried" in res.output and "1 files" in res.output and "notes.txt" in res.output


def test_a_folder_input_with_a_file_name_for_output_is_a_usage_error(tree, tmp_path):
    res = invoke("compress", tree, "-o", tmp_path / "x.cpt")
    assert res.exit_code == 1 and "output folder" in res.output
    assert not (tmp_path / "x.cpt").exists()


def test_ctrl_c_stops_a_folder_run_promptly_and_a_rerun_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "many"
    src.mkdir()
    # enough files that the run is still going when the interrupt arrives, also on a loaded machine
    count = 1000
    for i in range(count):
        Image.fromarray(natural_image(64, 64, seed=i % 7)).save(src / f"{i:04d}.png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "compact.cli", "compress", str(src), "-o", str(out), "-j", "2", "-b", "onnx"]
    # A shell's `cmd &` starts its command with Ctrl-C ignored, and children inherit that: pytest run that way
    # would hand the CLI an ignored SIGINT (it then finishes and exits 0). A Python handler in this process
    # becomes the default disposition in the child, as from a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.cpt"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    stopped = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - stopped < 20 and "interrupted" in err
    made = len(list(out.glob("*.cpt")))
    assert 5 <= made < count and not list(out.glob(".*.partial"))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and f"{count - made} done, {made} already done" in res.stdout


def test_refining_workers_start_and_finish(tree, tmp_path):
    """Refinement loads torch in the parent (the codec made there to check the options): forked workers hung
    for good in the first try, so each run has a deadline, in a process of its own."""
    pytest.importorskip("torch")
    out = tmp_path / "cpt"
    cmd = [sys.executable, "-m", "compact.cli", "compress", str(tree), "-o", str(out), "-j", "2", "-b", "onnx",
           "--refine", "2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "2"}  # a thread pool in the parent is what a fork inherits badly
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        out_text, err_text = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung workers too, not only the parent
        pytest.fail("compress --refine -j 2 did not finish in 300 s")
    assert proc.returncode == 0 and "4 done, 0 already done, 0 failed" in out_text, out_text + err_text
