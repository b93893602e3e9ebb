"""Version 2 streams: entropy-coded with the model's context model, reconstructions identical to version 1."""

import shutil

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image

from compact import container, entropy, roles
from compact.codec import Codec
from compact.context_fit import fit_context
from compact.errors import ModelMismatchError
from compact.manifest import ModelBundle, default_model_dir


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """A copy of the shipped model without a context model, and one with a context model fitted here."""
    root = tmp_path_factory.mktemp("models")
    plain = root / "plain"
    shutil.copytree(default_model_dir(), plain, ignore=shutil.ignore_patterns("__pycache__", "__init__.py"))
    bundle = ModelBundle.load(plain)
    for role in [r for r in bundle.manifest.files if r == "context" or r.startswith(roles.EARLIER_CONTEXT)]:
        (plain / bundle.manifest.files.pop(role)).unlink()
    bundle.register("weights", bundle.manifest.files["weights"])  # rewrites the manifest without the contexts
    fitted = root / "fitted"
    shutil.copytree(plain, fitted)
    photos = root / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray(natural_image(128, 192, seed=40 + i)).save(photos / f"{i}.png")
    fit_context(Codec(fitted, "onnx"), photos)
    return plain, fitted


def test_entropy_coded_stream_is_smaller_and_decodes_identically(model_dirs):
    plain, fitted = model_dirs
    coded, raw = Codec(fitted, "onnx"), Codec(plain, "onnx")
    rgb = natural_image(256, 320, seed=50)
    v2, v1 = coded.compress(rgb), raw.compress(rgb)
    assert v2[4] == container.ENTROPY_CODED and v1[4] == container.RAW
    assert len(v2) < len(v1)
    assert np.array_equal(coded.decompress_array(v2), raw.decompress_array(v1))
    assert np.array_equal(coded.decode_bits(v2)[1], raw.decode_bits(v1)[1])


def test_version_1_streams_still_decode(model_dirs):
    plain, fitted = model_dirs
    rgb = natural_image(64, 64, seed=51)
    v1 = Codec(fitted, "onnx", entropy_coding=False).compress(rgb)
    assert v1[4] == container.RAW
    assert np.array_equal(Codec(fitted, "onnx").decompress_array(v1), Codec(plain, "onnx").decompress_array(v1))


def test_version_2_needs_the_same_context_model(model_dirs):
    plain, fitted = model_dirs
    v2 = Codec(fitted, "onnx").compress(natural_image(128, 128, seed=52))
    with pytest.raises(ModelMismatchError, match="this model has none"):
        Codec(plain, "onnx").decompress_array(v2)
    other = Codec(fitted, "onnx")
    table = other.context.table.copy()
    table[0, 0, 0] = 1 + table[0, 0, 0] % 60000
    other.context = entropy.ContextModel(table, other.context.parents)
    with pytest.raises(ModelMismatchError, match="context model"):
        other.decompress_array(v2)


def test_falls_back_to_raw_bits_when_coding_would_grow(model_dirs):
    _, fitted = model_dirs
    codec = Codec(fitted, "onnx")
    tiny = codec.compress(natural_image(8, 8))  # 2 payload bytes raw: a coded payload is >= 4
    assert tiny[4] == container.RAW
    # a table that claims every bit is 0
    codec.context = entropy.ContextModel(np.full_like(codec.context.table, 1), codec.context.parents)
    data = codec.compress(natural_image(128, 128, seed=53))
    assert data[4] == container.RAW


def test_info_names_the_context_model(model_dirs, tmp_path):
    from typer.testing import CliRunner

    from compact.cli import app

    _, fitted = model_dirs
    path = tmp_path / "x.cpt"
    path.write_bytes(Codec(fitted, "onnx").compress(natural_image(96, 96, seed=54)))
    res = CliRunner().invoke(app, ["info", str(path)])
    assert res.exit_code == 0 and "entropy-coded, context model" in res.output and "version: 2" in res.output


def test_fit_context_never_changes_the_installed_model_or_an_existing_table(model_dirs, tmp_path):
    from compact.errors import OutputExistsError

    plain, fitted = model_dirs
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(natural_image(64, 64, seed=1)).save(photos / "a.png")
    installed = (default_model_dir() / entropy.CONTEXT_FILE).read_bytes()
    with pytest.raises(OutputExistsError, match="installed model"):
        fit_context(Codec("default", "onnx"), photos)
    assert (default_model_dir() / entropy.CONTEXT_FILE).read_bytes() == installed
    table = (fitted / entropy.CONTEXT_FILE).read_bytes()
    with pytest.raises(OutputExistsError, match="--force"):
        fit_context(Codec(fitted, "onnx"), photos)  # other photos: another table
    assert (fitted / entropy.CONTEXT_FILE).read_bytes() == table
    refit = tmp_path / "refit"
    shutil.copytree(fitted, refit)
    fit_context(Codec(refit, "onnx"), fitted.parent / "photos")  # the same fit again: allowed, same table
    assert (refit / entropy.CONTEXT_FILE).read_bytes() == table
    copy = tmp_path / "copy"
    shutil.copytree(fitted, copy)
    fit_context(Codec(copy, "onnx"), photos, force=True)
    assert (copy / entropy.CONTEXT_FILE).read_bytes() != table


def test_a_replaced_table_stays_and_its_streams_still_decode(model_dirs, tmp_path):
    plain, fitted = model_dirs
    rgb = natural_image(96, 128, seed=60)
    old = Codec(fitted, "onnx")
    stream = old.compress(rgb)
    assert container.read_header(stream).context_id == old.context.context_id_bytes
    copy = tmp_path / "copy"
    shutil.copytree(fitted, copy)
    # the same photos in layout 1: another table
    replacement = fit_context(Codec(copy, "onnx"), fitted.parent / "photos", force=True, layout=1)
    new = Codec(copy, "onnx")
    assert new.context.context_id == replacement.context_id != old.context.context_id and replacement.layout == 1
    assert list(new.earlier_contexts) == [old.context.context_id]
    assert np.array_equal(new.decompress_array(stream), old.decompress_array(stream))
    assert container.read_header(new.compress(rgb)).context_id == replacement.context_id_bytes
    # the control: without the kept table the old stream names a context this folder lacks
    new.earlier_contexts.clear()
    with pytest.raises(ModelMismatchError, match="context model"):
        new.decompress_array(stream)


def test_a_kept_table_must_be_the_one_its_role_names(model_dirs, tmp_path):
    from compact.errors import ModelError

    copy = tmp_path / "copy"
    shutil.copytree(model_dirs[1], copy)
    bundle = ModelBundle.load(copy)
    bundle.register(roles.earlier_context("0badc0de"), entropy.CONTEXT_FILE)
    with pytest.raises(ModelError, match="holds context model"):
        Codec(copy, "onnx")
