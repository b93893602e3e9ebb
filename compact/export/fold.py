"""The graphs export writes: a copy of the trained model with constant GDN and exact algebraic folds.

* Every GDN becomes a :class:`FrozenGDN` (constants, float16-safe encoder side).
* Each encoder convolution that feeds a GDN is divided by EXPORT_SCALE and its GDN told so: the exported GDN
  then needs no scaling multiply and computes z / sqrt(...) (2 element-wise ops, not 4).
* The decoder's +0.5 moves into the last convolution's bias (pixel shuffle only moves values).

Element-wise ops break onnxruntime's blocked (NCHWc) convolution chain and are memory-bound, so fewer of
them is measurably faster; the values are the same up to float rounding (checked by the parity tests).
"""

from __future__ import annotations

import copy

import torch

from compact.export.frozen_gdn import EXPORT_SCALE, FrozenGDN
from compact.training.gdn import GDN
from compact.training.model import CompactAutoencoder


@torch.no_grad()
def fold_for_export(model: CompactAutoencoder) -> CompactAutoencoder:
    """A folded, frozen copy of ``model`` in eval mode (the original, and its weights file, are untouched)."""
    folded = copy.deepcopy(model).eval()
    for half in (folded.encoder, folded.decoder):
        layers = half.layers
        for i, layer in enumerate(layers):
            if not isinstance(layer, GDN):
                continue
            conv = layers[i - 1]
            prescaled = not layer.inverse and isinstance(conv, torch.nn.Conv2d)
            if prescaled:
                conv.weight /= EXPORT_SCALE
                conv.bias /= EXPORT_SCALE
            layers[i] = FrozenGDN(layer, prescaled)
    last = folded.decoder.layers[-1].conv
    last.bias += folded.decoder.offset
    folded.decoder.offset = 0.0
    return folded
