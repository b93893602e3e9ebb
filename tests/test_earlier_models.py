"""Streams made with an earlier default model still decode after the default changes: the earlier model ships
with the package (compact/models/<model id>/) and a codec that follows the default switches to it."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import natural_image

from compact import bits
from compact.codec import Codec
from compact.errors import ModelMismatchError
from compact.manifest import default_model_dir, installed_model_dir, resolve_model

#: the default models before the current one, oldest first: N = 64 throughout, then the wide model at 52,500,
#: 77,000, 99,000 and 113,000 steps
EARLIER_DEFAULTS = ["7e9c8c208743403b", "6a3456b3cacb766e", "aba01a7ce075c639", "9fd48a1b4c06c714",
                    "7d333cbfccbd76af"]
earlier_default = pytest.mark.parametrize("earlier_id", EARLIER_DEFAULTS)


@earlier_default
def test_the_earlier_default_ships_and_resolves_by_id(earlier_id):
    assert installed_model_dir(earlier_id) == default_model_dir().parent / earlier_id
    assert resolve_model(earlier_id).manifest.model_id == earlier_id != resolve_model("default").manifest.model_id
    assert installed_model_dir("default") is None and installed_model_dir("0" * 16) is None


def test_every_shipped_model_lives_in_the_folder_of_its_id_and_default_names_one():
    from compact.manifest import MODELS_DIR, ModelBundle

    folders = [p for p in MODELS_DIR.iterdir() if p.is_dir() and (p / "manifest.json").is_file()]
    assert len(folders) == len(EARLIER_DEFAULTS) + 1
    for folder in folders:
        assert ModelBundle.load(folder).manifest.model_id == folder.name
    assert default_model_dir() in folders and resolve_model("default").root == default_model_dir()


@earlier_default
def test_an_earlier_default_stream_decodes_with_the_default_codec(earlier_id):
    rgb = natural_image(40, 56, seed=80)
    earlier = Codec(earlier_id, "onnx")
    stream = earlier.compress(rgb)
    codec = Codec(backend="onnx")
    assert codec.model_id != earlier_id
    assert np.array_equal(codec.decompress_array(stream), earlier.decompress_array(stream))
    assert codec._codec_for(stream).model_id == earlier_id and codec._codec_for(codec.compress(rgb)) is codec


@earlier_default
def test_a_chosen_model_does_not_switch_and_says_which_to_use(tmp_path, earlier_id):
    stream = Codec(earlier_id, "onnx").compress(natural_image(32, 32, seed=81))
    chosen = Codec(default_model_dir(), "onnx")  # a folder, chosen explicitly
    with pytest.raises(ModelMismatchError, match=f"--model {earlier_id}"):
        chosen.decompress_array(stream)


@earlier_default
def test_decompress_command_reads_an_earlier_stream(tmp_path, earlier_id):
    from PIL import Image
    from typer.testing import CliRunner

    from compact.cli import app

    (tmp_path / "old.cpt").write_bytes(Codec(earlier_id, "onnx").compress(natural_image(24, 40, seed=82)))
    res = CliRunner().invoke(app, ["decompress", str(tmp_path / "old.cpt"), "-o", str(tmp_path / "old.png"),
                                   "-b", "onnx"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "old.png").size == (40, 24)


STREAMS = Path(__file__).parent / "fixtures" / "streams"


@pytest.mark.parametrize("quality", [1, 2, 4])
def test_streams_of_the_defaults_replaced_table_still_decode(quality):
    """Written by the default model with its first context table (b5e87950, layout 1), before the table was
    replaced by a layout 2 one: the model folder keeps the old table, so the code comes back bit for bit."""
    meta = json.loads((STREAMS / "meta.json").read_text())
    stream = (STREAMS / f"default-q{quality}.cpt").read_bytes()
    expected = bits.unpack((STREAMS / f"code-q{quality}.bin").read_bytes(), tuple(meta[f"q{quality}"]))
    codec = Codec(backend="onnx")
    header, code, _ = codec.decode_bits(stream)
    assert header.context_id.hex() == "b5e87950" != codec.context.context_id and codec.context.layout == 2
    assert header.model_id_hex == codec.model_id and np.array_equal(code, expected)
    assert codec.decompress_array(stream).shape == (96, 128, 3)
    # the control: without the kept table the stream names a context the model lacks
    codec.earlier_contexts.clear()
    with pytest.raises(ModelMismatchError, match="b5e87950"):
        codec.decode_bits(stream)
