"""The base install never needs torch: compress, decompress and run on onnx, with torch unimportable and with
torch installed (where nothing may import it)."""

import subprocess
import sys
import textwrap

import pytest
from conftest import natural_image
from PIL import Image

SCRIPT = textwrap.dedent(
    """
    import sys

    class BlockTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")

    if sys.argv[3] == "block":
        sys.meta_path.insert(0, BlockTorch())
    import compact
    from compact.cli import app

    image, workdir = sys.argv[1], sys.argv[2]
    for args in (["compress", image, "-o", workdir + "/x.cpt", "-b", "onnx"],
                 ["decompress", workdir + "/x.cpt", "-o", workdir + "/x.png", "-b", "onnx"],
                 ["info", workdir + "/x.cpt"],
                 ["run", "-b", "onnx", image, "-o", workdir]):
        assert app(args, standalone_mode=False) in (None, 0), args
    data = compact.compress(image, backend="onnx")
    compact.decompress(data, backend="onnx")
    assert "torch" not in sys.modules, "torch was imported"
    print("ok")
    """
)


@pytest.mark.parametrize("mode", ["block", "installed"])
def test_runtime_path_never_imports_torch(tmp_path, mode):
    image = tmp_path / "img.png"
    Image.fromarray(natural_image(48, 48)).save(image)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(image), str(tmp_path), mode], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert (tmp_path / "x.png").is_file() and (tmp_path / "img.compact.png").is_file()
