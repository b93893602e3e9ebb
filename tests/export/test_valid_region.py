"""The Core ML decoder wrapper computes, inside a padded shape, exactly what the decoder computes on the code alone."""

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from compact.config import ModelConfig  # noqa: E402
from compact.export.valid_region import ValidRegionDecoder  # noqa: E402
from compact.training.model import CompactAutoencoder, UpConv  # noqa: E402


class _FilterUnmasked(ValidRegionDecoder):
    """The wrapper as written before the smooth filter: only each UpConv's input is masked, so the filter
    after the shuffle reads what the padding made."""

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        mask, h = bits[:, :1].abs(), bits
        for layer in self.layers:
            if isinstance(layer, UpConv):
                h = layer(h * mask)
                if isinstance(layer.shuffle, nn.PixelShuffle):
                    mask = nn.functional.interpolate(mask, scale_factor=layer.shuffle.upscale_factor)
            else:
                h = layer(h)
        return h + self.offset if self.offset else h


def _padded_error(smooth: bool, wrapper: type[ValidRegionDecoder]) -> float:
    torch.manual_seed(7)
    decoder = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, smooth_upsampling=smooth)).decoder
    with torch.no_grad():
        for p in decoder.parameters():  # weights far from the init, so the padding shows wherever it leaks
            p.add_(0.2 * torch.randn_like(p))
            if p.dim() < 4:  # GDN's parameters stay positive
                p.abs_()
        code = torch.randint(0, 2, (1, 16, 5, 7)).float() * 2 - 1
        padded = nn.functional.pad(code, (0, 3, 0, 4))  # the runtime's 0 code cells right and below
        whole = decoder(code)
        inside = wrapper(decoder.layers, decoder.offset).eval()(padded)[..., : 5 * 16, : 7 * 16]
    return float((inside - whole).abs().max() / whole.abs().max())


@pytest.mark.parametrize("smooth", [False, True], ids=["plain", "smooth"])
def test_the_padded_decoder_gives_the_decoders_numbers(smooth):
    assert _padded_error(smooth, ValidRegionDecoder) < 1e-5


def test_an_unmasked_smooth_filter_reads_the_padding():
    """The control: the same check fails when the filter after the shuffle is not masked."""
    assert _padded_error(True, _FilterUnmasked) > 1e-3
