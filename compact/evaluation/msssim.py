"""MS-SSIM on 8-bit RGB through pytorch-msssim (a maintained implementation), for evaluation and losses.

It runs on torch, so only evaluation (the eval extra) imports it; the numpy-only parts of COMPACT never do.
"""

from __future__ import annotations

import numpy as np
import torch
from pytorch_msssim import ms_ssim

#: MS-SSIM's 5 scales with an 11-tap window need each side larger than (11 - 1) * 2**4.
MIN_SIDE = 161


def msssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """MS-SSIM of two HxWx3 uint8 images (1.0 for identical images)."""
    if reference.shape != distorted.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {distorted.shape}")
    if min(reference.shape[:2]) < MIN_SIDE:
        raise ValueError(f"MS-SSIM needs both sides >= {MIN_SIDE} px, got {reference.shape[1]}x{reference.shape[0]}")

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float()[None]

    with torch.no_grad():
        return float(ms_ssim(tensor(reference), tensor(distorted), data_range=255, size_average=True))
