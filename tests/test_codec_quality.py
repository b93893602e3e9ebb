"""Variable rate: a quality level sends a prefix of the code channels, recorded in the header."""

from dataclasses import replace

import numpy as np
import pytest
from conftest import natural_image

from compact import container
from compact.bits import packed_size
from compact.codec import Codec
from compact.errors import ModelMismatchError, QualityError


def test_each_quality_sends_its_channels_and_decodes(tiny_levels_bundle):
    codec = Codec(tiny_levels_bundle, backend="onnx")
    assert codec.qualities == 3
    rgb = natural_image(64, 80, seed=3)
    sizes = []
    for quality, channels in zip((1, 2, 3), (4, 8, 16), strict=True):
        data = codec.compress(rgb, quality=quality)
        header, _, _ = container.read(data)
        assert header.channels == channels
        assert codec.decompress_array(data).shape == rgb.shape
        sizes.append(len(data))
    assert sizes[0] < sizes[1] < sizes[2]
    assert len(codec.compress(rgb)) == sizes[2]  # no 16-channel level below the top: default is the top


def test_lower_quality_matches_the_torch_model_with_unsent_channels_zero(tiny_levels_bundle):
    torch = pytest.importorskip("torch")
    from compact.geometry import to_model_input
    from compact.training.checkpoint import load_model

    # the networks' pixels alone: no colour block, no grid filter
    codec = Codec(tiny_levels_bundle, backend="onnx", colour_correction=False, degrid=False)
    rgb = natural_image(48, 64, seed=4)
    ours = codec.decompress_array(codec.compress(rgb, quality=1))
    model = load_model(tiny_levels_bundle.file("weights")).eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(to_model_input(rgb)), 4)[0].numpy()
    ref = np.clip(np.rint(ref.transpose(1, 2, 0)[:48, :64] * 255), 0, 255).astype(np.uint8)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_quality_out_of_range_and_foreign_channel_counts_are_errors(tiny_levels_bundle, default_bundle):
    with pytest.raises(QualityError, match="1..3"):
        Codec(tiny_levels_bundle, backend="onnx", quality=4)
    with pytest.raises(QualityError):
        Codec(default_bundle, backend="onnx").compress(
            natural_image(32, 32), quality=default_bundle.manifest.config.qualities + 1
        )
    codec = Codec(tiny_levels_bundle, backend="onnx", entropy_coding=False)
    header, _, ext = container.read(codec.compress(natural_image(32, 32), quality=1))
    odd = replace(header, channels=5, payload_size=packed_size((5, 2, 2)))
    forged = container.write(odd, bytes(packed_size((5, 2, 2))), ext)
    with pytest.raises(ModelMismatchError, match="levels are \\[4, 8, 16\\]"):
        codec.decompress_array(forged)
