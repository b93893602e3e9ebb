"""Exact algebraic folds applied to a frozen model before export, so runtimes execute fewer ops.

* Each encoder convolution that feeds a GDN is divided by GDN's EXPORT_SCALE, and the GDN told so: the
  exported GDN then needs no scaling multiply and computes z / sqrt(...) (2 element-wise ops, not 4).
* The decoder's +0.5 moves into the last convolution's bias (pixel shuffle only moves values).

Element-wise ops break onnxruntime's blocked (NCHWc) convolution chain and are memory-bound, so fewer of
them is measurably faster; the values are the same up to float rounding (checked by the parity tests).
"""

from __future__ import annotations

import copy

import torch

from compact.training.gdn import EXPORT_SCALE, GDN
from compact.training.model import CompactAutoencoder


@torch.no_grad()
def fold_for_export(model: CompactAutoencoder) -> CompactAutoencoder:
    """A folded copy of a frozen model (the original, and the weights file, are untouched)."""
    folded = copy.deepcopy(model)
    layers = list(folded.encoder.layers)
    for conv, gdn in zip(layers, layers[1:], strict=False):
        if isinstance(gdn, GDN) and isinstance(conv, torch.nn.Conv2d):
            if not gdn.frozen:
                raise ValueError("fold_for_export needs a frozen model (call freeze() first)")
            conv.weight /= EXPORT_SCALE
            conv.bias /= EXPORT_SCALE
            gdn.prescaled = True
    last = folded.decoder.layers[-1].conv
    last.bias += folded.decoder.offset
    folded.decoder.offset = 0.0
    return folded.eval()
