import subprocess
import sys

import pytest
from conftest import natural_image
from PIL import Image
from typer.testing import CliRunner

from compact.cli import app

runner = CliRunner()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(natural_image(40, 56, seed=11)).save(path)
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_compress_info_decompress(photo, tmp_path):
    res = invoke("compress", photo, "--backend", "onnx")
    assert res.exit_code == 0, res.output
    cpt = photo.with_suffix(".cpt")
    assert cpt.is_file()
    res = invoke("info", cpt)
    assert res.exit_code == 0 and "56x40" in res.output and "crc32: ok" in res.output
    out = tmp_path / "back.png"
    res = invoke("decompress", cpt, "-o", out)
    assert res.exit_code == 0, res.output
    assert Image.open(out).size == (56, 40)


def test_run_reports_and_writes_reconstruction(photo, tmp_path):
    res = invoke("run", "--backend", "onnx", photo, "-o", tmp_path)
    assert res.exit_code == 0, res.output
    for field in ("bytes", "bpp", "smaller than raw 24-bit RGB", "PSNR", "encode", "decode"):
        assert field in res.output
    assert (tmp_path / "photo.compact.png").is_file()


def test_batch_to_folder(photo, tmp_path):
    second = tmp_path / "second.png"
    Image.fromarray(natural_image(20, 20)).save(second)
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert invoke("compress", photo, second, "-o", outdir).exit_code == 0
    assert sorted(p.name for p in outdir.iterdir()) == ["photo.cpt", "second.cpt"]
    assert invoke("compress", photo, second, "-o", tmp_path / "new").exit_code == 0  # batch mode makes the folder
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["photo.cpt", "second.cpt"]


def test_refuses_to_overwrite_without_force(photo):
    assert invoke("compress", photo).exit_code == 0
    cpt = photo.with_suffix(".cpt")
    before = cpt.read_bytes()
    cpt.write_bytes(b"keep me")
    res = invoke("compress", photo)
    assert res.exit_code == 1 and "--force" in res.output
    assert cpt.read_bytes() == b"keep me"
    assert invoke("compress", photo, "--force").exit_code == 0
    assert cpt.read_bytes() == before


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "shorter than"),
        (b"hello world, not compact at all", "bad magic"),
        (None, "CRC32"),
    ],
)
def test_bad_streams_fail_with_one_line_and_no_output(photo, tmp_path, content, message):
    bad = tmp_path / "bad.cpt"
    if content is None:
        assert invoke("compress", photo, "-o", bad).exit_code == 0
        data = bytearray(bad.read_bytes())
        data[-10] ^= 0xFF
        content = bytes(data)
    bad.write_bytes(content)
    res = invoke("decompress", bad)
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output
    assert not bad.with_suffix(".png").exists()


def test_errors_through_the_real_entry_point_are_one_line(tmp_path):
    missing = tmp_path / "nope.png"
    for args in (["compress", str(missing)], ["decompress", str(tmp_path)], ["run", "-b", "coreml" if sys.platform
                 != "darwin" else "nope", str(missing)], ["info", str(missing)]):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "compact.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr


def test_every_command_has_help_with_an_example():
    for command in ("compress", "decompress", "run", "info", "export", "train"):
        res = invoke(command, "--help")
        assert res.exit_code == 0 and "Example: compact " + command in res.output


def test_train_and_export_commands(tmp_path, tiny_checkpoint, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("COLUMNS", "40")  # narrower than a validation line
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        Image.fromarray(natural_image(64, 64, seed=i)).save(data / f"{i}.png")
    res = invoke("train", "--data", data, "--out", tmp_path / "run", "--steps", 2, "--crop", 32, "--batch-size", 2,
                 "--channels", 8, "--val", data, "--val-every", 1)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "best validation PSNR" in res.output and (tmp_path / "run" / "weights.safetensors").is_file()
    assert "precision: fp32 (requested)" in res.output
    # one line per validation, also when the output is not a terminal (CliRunner: the bar is not drawn)
    lines = [line for line in res.output.splitlines() if " dB (" in line]
    assert [line.split()[:2] for line in lines] == [["step", "1"], ["step", "2"]]
    assert all(line.endswith("steps/s") for line in lines)  # whole lines: not wrapped at the console's width
    res = invoke("export", "--target", "onnx", "--checkpoint", tmp_path / "run", "--out", tmp_path / "model")
    assert res.exit_code == 0, res.output
    assert {"encoder.onnx", "decoder.onnx", "weights.safetensors", "manifest.json"} <= {
        p.name for p in (tmp_path / "model").iterdir()
    }
    res = invoke("run", "--model", tmp_path / "model", "-b", "onnx", "-o", tmp_path, tmp_path / "data" / "0.png")
    assert res.exit_code == 0, res.output
    assert invoke("train", "--data", data, "--out", tmp_path / "r2", "--crop", 30).exit_code == 1
    res = invoke("train", "--data", data, "--out", tmp_path / "r3", "--precision", "fp8")
    assert res.exit_code == 1 and "precision must be one of fp32, bf16, auto" in res.output


def test_missing_extra_is_one_clear_line(monkeypatch):
    import compact.cli.common

    real = compact.cli.common.importlib.util.find_spec
    monkeypatch.setattr(compact.cli.common.importlib.util, "find_spec",
                        lambda n, *a: None if n == "torch" else real(n, *a))  # fmt: skip
    res = invoke("export", "--target", "onnx")
    assert res.exit_code == 1 and 'pip install "compact[export]"' in res.output


def test_quality_option_is_stored_and_checked(photo, tmp_path, tiny_levels_bundle):
    model = tiny_levels_bundle.root
    out = tmp_path / "q1.cpt"
    res = invoke("compress", photo, "-o", out, "--model", model, "--backend", "onnx", "--quality", 1)
    assert res.exit_code == 0, res.output
    res = invoke("info", out)
    assert "4x3x4" in res.output  # 4 of the model's 16 channels were sent
    res = invoke("decompress", out, "-o", tmp_path / "q1.png", "--model", model, "--backend", "onnx")
    assert res.exit_code == 0, res.output
    res = invoke("compress", photo, "-o", tmp_path / "q9.cpt", "--model", model, "--backend", "onnx", "-q", 9)
    assert res.exit_code == 1 and "quality must be 1..3" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "q9.cpt").exists()
    res = invoke("run", "--backend", "onnx", "--model", model, "-q", 2, photo, "-o", tmp_path)
    assert res.exit_code == 0 and "quality 2/3 (8 channels)" in res.output, res.output


def test_readme_commands_work_twice_and_never_touch_their_inputs(photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    original = photo.read_bytes()
    for _ in range(2):
        res = invoke("run", "--backend", "onnx", photo)
        assert res.exit_code == 0, res.output
        res = invoke("compress", photo, "-o", "photo.cpt")
        assert res.exit_code == 0, res.output
        res = invoke("decompress", "photo.cpt")  # no -o: beside the stream, never over photo.png
        assert res.exit_code == 0, res.output
    assert "already complete" in res.output
    assert (tmp_path / "photo.decoded.png").is_file() and photo.read_bytes() == original
    stream = (tmp_path / "photo.cpt").read_bytes()
    res = invoke("compress", photo, "-o", photo, "--force")
    assert res.exit_code == 1 and "is the input" in res.output
    assert photo.read_bytes() == original
    (tmp_path / "other.cpt").write_bytes(b"not a stream")
    res = invoke("compress", photo, "-o", "other.cpt")
    assert res.exit_code == 1 and "--force" in res.output and (tmp_path / "other.cpt").read_bytes() == b"not a stream"
    res = invoke("compress", photo, "-o", "photo.cpt", "-q", "1")  # another quality: redone, not skipped
    assert res.exit_code == 1 and (tmp_path / "photo.cpt").read_bytes() == stream
    res = invoke("compress", photo, "-o", "photo.cpt", "-q", "1", "--force")
    assert res.exit_code == 0 and (tmp_path / "photo.cpt").read_bytes() != stream


def test_option_values_are_checked_when_parsed(photo):
    for args in (["compress", photo, "--max-pixels", "-1"], ["compress", photo, "-q", "0"],
                 ["compress", photo, "-j", "0"], ["decompress", photo, "--quality", "2"]):  # fmt: skip
        res = invoke(*args)
        assert res.exit_code != 0, args


def test_dash_is_standard_input_and_output_byte_identical_to_files(photo, tmp_path):
    def cli(*args, stdin=b""):
        proc = subprocess.run([sys.executable, "-m", "compact.cli", *map(str, args)], input=stdin,
                              capture_output=True, cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    streamed = cli("compress", "-", "-b", "onnx", stdin=photo.read_bytes())
    cli("compress", photo, "-o", tmp_path / "file.cpt", "-b", "onnx")
    assert streamed == (tmp_path / "file.cpt").read_bytes()
    assert cli("compress", photo, "-o", "-", "-b", "onnx") == streamed
    png = cli("decompress", "-", "-o", "-", stdin=streamed)
    cli("decompress", tmp_path / "file.cpt", "-o", tmp_path / "file.png")
    assert png == (tmp_path / "file.png").read_bytes()
    assert not (tmp_path / "-").exists()
    bad = subprocess.run([sys.executable, "-m", "compact.cli", "decompress", "-"], input=b"junk", capture_output=True)
    assert bad.returncode == 1 and bad.stderr.decode().startswith("error: ") and not bad.stdout


def test_animations_keep_one_frame_and_say_so(tmp_path):
    frames = [Image.fromarray(natural_image(32, 48, seed=s)) for s in (1, 2, 3)]
    anim = tmp_path / "anim.gif"
    frames[0].save(anim, save_all=True, append_images=frames[1:])
    res = invoke("compress", anim, "-o", tmp_path / "first.cpt", "-b", "onnx")
    assert res.exit_code == 0 and "has 3 frames or pages; frame 0 was coded" in res.output
    res = invoke("compress", anim, "-o", tmp_path / "third.cpt", "-b", "onnx", "--frame", 2)
    assert res.exit_code == 0 and "frame 2 was coded" in res.output
    assert (tmp_path / "first.cpt").read_bytes() != (tmp_path / "third.cpt").read_bytes()
    res = invoke("compress", anim, "-o", tmp_path / "x.cpt", "--frame", 3)
    assert res.exit_code == 1 and "--frame must be 0..2" in res.output and not (tmp_path / "x.cpt").exists()
    folder = tmp_path / "in"
    folder.mkdir()
    anim.rename(folder / "anim.gif")
    res = invoke("compress", folder, "-o", tmp_path / "out", "-j", 1)
    assert res.exit_code == 0 and "frame 0 was coded" in res.output


def test_libtiff_messages_never_reach_stderr(tmp_path):
    path = tmp_path / "t.tif"
    Image.fromarray(natural_image(64, 64, seed=1)).save(path, compression="tiff_lzw")
    data = path.read_bytes()
    broken = tmp_path / "broken.tif"
    broken.write_bytes(data[: len(data) // 2] + bytes(200) + data[len(data) // 2 + 200 :])  # libtiff complains
    proc = subprocess.run([sys.executable, "-m", "compact.cli", "compress", str(broken), "-b", "onnx"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: ")
    proc = subprocess.run([sys.executable, "-m", "compact.cli", "compress", str(path), "-b", "onnx"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == ""


def test_an_interrupted_training_names_the_command_that_resumes_it():
    from compact.cli.models import resume_command

    argv = ["/venv/bin/compact", "train", "--data", "my photos", "--out", "runs/a", "--force"]
    assert resume_command(argv) == "compact train --data 'my photos' --out runs/a --resume"


def test_refine_is_a_compress_option_whose_streams_any_decompress_reads(photo, tmp_path):
    pytest.importorskip("torch")
    res = invoke("compress", photo, "-o", tmp_path / "r.cpt", "-b", "onnx", "--refine", 3)
    assert res.exit_code == 0, res.output
    res = invoke("decompress", tmp_path / "r.cpt", "-o", tmp_path / "r.png")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "r.png") as decoded:
        assert decoded.size == (56, 40)
    res = invoke("run", photo, "-o", tmp_path, "-b", "onnx", "--refine", 3)
    assert res.exit_code == 0 and "refine" in res.output and "(3 steps)" in res.output, res.output
    res = invoke("decompress", tmp_path / "r.cpt", "-o", tmp_path / "s.png", "--refine", 3)
    assert res.exit_code == 1 and res.output.startswith("error:") and "are for compress" in res.output
    assert not (tmp_path / "s.png").exists()
    assert invoke("compress", photo, "-o", tmp_path / "n.cpt", "--refine", -1).exit_code != 0
    assert not (tmp_path / "n.cpt").exists()
