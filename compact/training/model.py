"""The COMPACT auto-encoder: 6 strided convolutions with GDN, a binary code, 6 up-convolutions with IGDN.

Up-sampling uses a convolution followed by pixel shuffle instead of a transposed convolution: it has the
same capacity, exports to ONNX with dynamic shapes, and avoids Core ML's ConvTranspose bugs
(coremltools issues #2281 and #2324).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from compact.config import ModelConfig
from compact.training.gdn import GDN


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class Binomial(nn.Module):
    """Fixed 3x3 binomial low-pass, ([1, 2, 1] / 4) in each direction, applied to each channel alone.

    Its response at the Nyquist frequency is 0. After a pixel shuffle that removes the period-2 pattern
    the factor**2 sub-pixel filters leave whatever they learn; Sugawara et al. (2019) argue the same for a
    zero-order hold after up-sampling. A buffer outside the state dict: never trained, never stored.
    """

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0]) / 4
        kernel = (taps[:, None] * taps[None, :]).expand(channels, 1, 3, 3).clone()
        self.register_buffer("kernel", kernel, persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=self.channels)


class UpConv(nn.Module):
    """Sub-pixel up-convolution: conv to ``cout * factor**2`` channels, then pixel shuffle.

    Initialized "ICNR" style (Aitken et al., 2017): the factor**2 sub-pixel filters of each output channel
    start equal, so the layer starts as a convolution followed by nearest-neighbour up-sampling and
    leaves no checkerboard for training to unlearn.
    """

    def __init__(self, cin: int, cout: int, kernel: int, factor: int, smooth: bool = False):
        super().__init__()
        self.conv = _conv(cin, cout * factor * factor, kernel)
        self.shuffle = nn.PixelShuffle(factor) if factor > 1 else nn.Identity()
        #: a Binomial after the shuffle when asked for (only where there is a shuffle), else nothing
        self.smooth = Binomial(cout) if smooth and factor > 1 else nn.Identity()
        if factor > 1:
            with torch.no_grad():
                # PixelShuffle reads output channel k * factor**2 + s as sub-pixel s of channel k.
                weight = self.conv.weight.view(cout, factor * factor, cin, kernel, kernel)
                weight.copy_(weight[:, :1].expand_as(weight).clone())
                bias = self.conv.bias.view(cout, factor * factor)
                bias.copy_(bias[:, :1].expand_as(bias).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.smooth(self.shuffle(self.conv(x)))


class Encoder(nn.Module):
    """Image in [0, 1], shape (B, 3, H, W) with H, W multiples of 16 -> tanh latent (B, C, H/16, W/16)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        w, c = config.encoder_hidden, config.latent_channels
        self.layers = nn.Sequential(
            _conv(3, w[0], 5, 2), GDN(w[0]),
            _conv(w[0], w[1], 5, 2), GDN(w[1]),
            _conv(w[1], w[2], 5, 2), GDN(w[2]),
            _conv(w[2], w[3], 5, 2), GDN(w[3]),
            _conv(w[3], w[4], 3, 1), GDN(w[4]),
            _conv(w[4], c, 3, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layers(x - 0.5))


class Decoder(nn.Module):
    """Binary code as ±1 floats (B, C, h, w) -> image (B, 3, 16h, 16w), nominally in [0, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        w, c, smooth = config.decoder_hidden, config.latent_channels, config.smooth_upsampling
        self.layers = nn.Sequential(
            UpConv(c, w[0], 3, 1), GDN(w[0], inverse=True),
            UpConv(w[0], w[1], 3, 1), GDN(w[1], inverse=True),
            UpConv(w[1], w[2], 3, 2, smooth), GDN(w[2], inverse=True),
            UpConv(w[2], w[3], 3, 2, smooth), GDN(w[3], inverse=True),
            UpConv(w[3], w[4], 3, 2, smooth), GDN(w[4], inverse=True),
            UpConv(w[4], 3, 3, 2),  # full resolution: a period-2 px pattern is at Nyquist, kept sharp
        )  # fmt: skip
        #: added to the output; the exporter folds it into the last convolution's bias and sets it to 0
        self.offset = 0.5

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        out = self.layers(bits)
        return out + self.offset if self.offset else out


def stochastic_binarize(y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """+1 with probability (1 + y) / 2, else -1; straight-through gradient (training only)."""
    prob = (1.0 + y.detach()) * 0.5
    noise = torch.rand(prob.shape, generator=generator, device=prob.device, dtype=prob.dtype)
    b = torch.where(noise < prob, 1.0, -1.0)
    return y + (b - y).detach()


def mixed_binarize(y: torch.Tensor, sign_fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Stochastic binarization for most samples, the inference sign (straight-through) for ``sign_fraction``.

    With stochastic bits alone the decoder learns to read E[b] = y, and until the encoder saturates the sign
    it gets at inference is a different input: measured 15.7 dB with sign against 20.1 dB with stochastic
    bits after 2,500 steps. Sign samples train the decoder on what it will see.
    """
    bits = stochastic_binarize(y, generator)
    if sign_fraction <= 0:
        return bits
    hard = y + (sign_binarize(y) - y).detach()
    chosen = torch.rand((y.shape[0], 1, 1, 1), generator=generator, device=y.device) < sign_fraction
    return torch.where(chosen, hard, bits)


def sign_binarize(y: torch.Tensor) -> torch.Tensor:
    """Deterministic inference binarization: +1 for y >= 0, else -1 (never 0)."""
    return torch.where(y >= 0, 1.0, -1.0).to(y.dtype)


def keep_channels(bits: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Zero every channel at or past ``counts[i]`` in sample i: the decoder's view of unsent channels."""
    index = torch.arange(bits.shape[1], device=bits.device)
    return bits * (index[None, :] < counts[:, None]).to(bits.dtype)[:, :, None, None]


class CompactAutoencoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, x: torch.Tensor, channels: int | None = None, generator: torch.Generator | None = None,
                sign_fraction: float = 0.0) -> torch.Tensor:  # fmt: skip
        """Reconstruct ``x``; ``channels`` sends only that many leading code channels (the rest as 0).

        In training without ``channels`` each sample draws one of the config's levels (nested channel
        dropout), so one decoder learns every quality level. Training draws its randomness from ``generator``
        (default: torch's global one); ``sign_fraction`` of the samples get inference (sign) bits.
        """
        return self.passes(x, channels, generator, sign_fraction).image

    def passes(self, x: torch.Tensor, channels: int | None = None, generator: torch.Generator | None = None,
               sign_fraction: float = 0.0) -> Pass:  # fmt: skip
        """What :meth:`forward` computes, with the latent, the bits and the planes each sample sent (the
        rate term needs them)."""
        y = self.encoder(x)
        bits = mixed_binarize(y, sign_fraction, generator) if self.training else sign_binarize(y)
        if channels is not None:
            counts = torch.full((len(x),), channels, device=x.device)
        elif self.training and len(self.config.levels) > 1:
            levels = torch.tensor(self.config.levels, device=x.device)
            counts = levels[torch.randint(len(levels), (len(x),), device=x.device, generator=generator)]
        else:
            return Pass(self.decoder(bits), y, bits, torch.full((len(x),), bits.shape[1], device=x.device))
        return Pass(self.decoder(keep_channels(bits, counts)), y, bits, counts)


class Pass(NamedTuple):
    """One pass through the auto-encoder: the reconstruction, the tanh latent, the ±1 bits (all planes) and
    how many leading planes each sample sent to the decoder."""

    image: torch.Tensor
    latent: torch.Tensor
    bits: torch.Tensor
    counts: torch.Tensor
