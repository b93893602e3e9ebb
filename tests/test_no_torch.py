"""The base install never needs torch: every torch-free path (single files, folders through worker processes,
info, run, fit-context, the web server, backend auto, the Python API) runs with torch absent, and runs with
torch installed without importing it."""

import subprocess
import sys
import textwrap

import pytest
from conftest import natural_image
from PIL import Image

SCRIPT = textwrap.dedent(
    """
    import importlib.util
    import os
    import shutil
    import sys

    image, workdir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "block":
        # As if torch were not installed: find_spec says None and import fails, here and in forked workers.
        sys.modules["torch"] = None
        assert importlib.util.find_spec("torch") is None
    else:
        assert importlib.util.find_spec("torch") is not None, "this mode needs torch installed"
    import compact
    from compact.cli import app
    from compact.manifest import default_model_dir

    folder = os.path.join(workdir, "folder")
    os.makedirs(folder)
    shutil.copy(image, os.path.join(folder, "a.png"))
    shutil.copy(image, os.path.join(folder, "b.png"))
    model = os.path.join(workdir, "model")
    shutil.copytree(default_model_dir(), model, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    for args in (["compress", image, "-o", workdir + "/x.cpt", "-b", "onnx"],
                 ["decompress", workdir + "/x.cpt", "-o", workdir + "/x.png", "-b", "auto"],
                 ["info", workdir + "/x.cpt"],
                 ["info", "--model", "default"],
                 ["run", "-b", "auto", image, "-o", workdir],
                 ["compress", folder, "-o", workdir + "/cpt", "-j", "2"],
                 ["decompress", workdir + "/cpt", "-o", workdir + "/png", "-j", "2"],
                 ["fit-context", "--data", folder, "--model", model, "--force"]):
        assert app(args, standalone_mode=False) in (None, 0), args
    assert sorted(os.listdir(workdir + "/png")) == ["a.png", "b.png"], "a worker failed"
    data = compact.compress(image)
    compact.decompress(data)
    dist = os.path.join(workdir, "ort")
    os.makedirs(dist)
    open(os.path.join(dist, "ort.min.mjs"), "w").close()
    os.environ["COMPACT_ORT_DIST"] = dist
    from compact.web import start

    server, url = start()
    server.shutdown()
    assert "torch" not in sys.modules or sys.modules["torch"] is None, "torch was imported"
    print("ok")
    """
)


@pytest.mark.parametrize("mode", ["block", "installed"])
def test_torch_free_paths_never_import_torch(tmp_path, mode):
    if mode == "installed":
        pytest.importorskip("torch", reason="the installed mode needs torch installed")
    image = tmp_path / "img.png"
    Image.fromarray(natural_image(48, 48)).save(image)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(image), str(tmp_path), mode], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert (tmp_path / "x.png").is_file() and (tmp_path / "img.compact.png").is_file()
    assert (tmp_path / "model" / "context.json").read_bytes() != b""
