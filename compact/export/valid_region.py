"""Core ML graphs that compute, inside a larger enumerated shape, exactly what the networks compute on the image.

Core ML runs only the listed shapes on the Neural Engine, so the runtime pads every image up to one of them.
Whatever the padding holds, the networks would see it, and every convolution near the bottom and right
borders would give other numbers than onnxruntime, torch and the browser give at the image's own size
(measured on the shipped model: 27 dB and 5.6 % of the code bits flipped at 130x100).

These wrappers make the padding invisible instead: the region outside the image is marked in the input itself
(negative pixels for the encoder, 0 code cells for the decoder, both impossible inside an image: the
runtime writes compact.runtimes.coreml_shapes.OUTSIDE_PIXEL and OUTSIDE_CODE there) and each
convolution's input is multiplied by that validity mask at its resolution. Outside the image every
convolution then reads zeros, which is what its own zero padding gives at the image's border, so each output
inside the image is the same sum of the same products. Inside listed shapes without padding the mask is all
ones and multiplying by 1 is exact, so nothing else changes. One input per graph is kept on purpose: Core ML
enumerates shapes for models with one input only (pytorch/executorch issue 9632).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from compact.training.model import Binomial, UpConv


class ValidRegionEncoder(nn.Module):
    """(1, 3, H, W) pixels in [0, 1], negative outside the image -> tanh latent, zero-padding-exact at the border."""

    def __init__(self, layers: nn.Sequential):
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = (x[:, :1] >= 0).to(x.dtype)
        h = x - 0.5
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                h = layer(h * mask)
                stride = layer.stride[0]
                if stride > 1:
                    mask = mask[:, :, ::stride, ::stride]
            else:
                h = layer(h)
        return torch.tanh(h)


class ValidRegionDecoder(nn.Module):
    """(1, C, h, w) code of ±1, 0 outside the image -> pixels, zero-padding-exact at the border.

    Channel 0 is always sent (every quality level keeps a prefix of the channels), so |code[:, 0]| is the mask.
    """

    def __init__(self, layers: nn.Sequential, offset: float = 0.0):
        super().__init__()
        self.layers = layers
        self.offset = offset

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        mask = bits[:, :1].abs()
        h = bits
        for layer in self.layers:
            if isinstance(layer, UpConv):
                h = layer.shuffle(layer.conv(h * mask))
                if isinstance(layer.shuffle, nn.PixelShuffle):
                    mask = functional.interpolate(mask, scale_factor=layer.shuffle.upscale_factor, mode="nearest")
                if isinstance(layer.smooth, Binomial):  # a convolution too: it must read zeros outside
                    h = layer.smooth(h * mask)
            else:
                h = layer(h)
        return h + self.offset if self.offset else h
