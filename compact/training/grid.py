"""A training penalty on the grid that sub-pixel up-convolutions leave (issue 13: "no grid").

The grid is a faint pattern that repeats every 4 or 8 px, a few tenths of a level to a few levels: far too
weak to matter to the MSE, which is why training on MSE alone never removes it, yet plain to see in smooth
areas and a sharp peak in their spectrum (``compact.evaluation.grid``). Its strength changes across the
picture with the code, so a penalty on the exact spectral bins of a whole crop is dodged by moving the
energy next door (measured: docs/TRAINING.md). This one looks locally: in every 32x32 window of the error
(decoded - original, grey) it takes the mean error at each of the p x p phases (pixel position mod p), and
charges how much those means differ, i.e. the part of the error that repeats with period p there. Only
windows whose original is smooth count: that is where a grid shows, and where the error itself is small,
so the penalty does not turn into a second, heavier MSE on textured photos.
"""

from __future__ import annotations

import torch

PERIODS = (4, 8)  # the 16 px period scores about 1 already (no grid there)
WINDOW = 32
#: a window counts as smooth when the mean squared difference between neighbouring pixels of the original
#: is below this: about 2.5 levels RMS per pixel (the smooth test picture: 0.7; textured photos: 10 and more)
SMOOTH = (2.5 / 255) ** 2


def periodic_error(decoded: torch.Tensor, original: torch.Tensor, periods: tuple[int, ...] = PERIODS,
                   window: int = WINDOW) -> torch.Tensor:  # fmt: skip
    """Per sample of (B, 3, H, W) batches (H, W multiples of ``window``): the variance of the phase means of
    the grey error over the smooth windows, summed over ``periods`` and averaged over all windows (0 when no
    window is smooth)."""
    error = (decoded.float() - original.float()).mean(dim=1)
    grey = original.float().mean(dim=1)
    b, h, w = error.shape
    rows, cols = h // window, w // window
    down = torch.nn.functional.pad((grey[:, 1:, :] - grey[:, :-1, :]) ** 2, (0, 0, 0, 1))
    right = torch.nn.functional.pad((grey[:, :, 1:] - grey[:, :, :-1]) ** 2, (0, 1, 0, 0))
    roughness = ((down + right) / 2).reshape(b, rows, window, cols, window).mean(dim=(2, 4))
    smooth = (roughness < SMOOTH).float()  # (B, rows, cols)
    total = torch.zeros(b, device=error.device)
    for p in periods:
        tiles = error.reshape(b, rows, window // p, p, cols, window // p, p)
        means = tiles.mean(dim=(2, 5))  # (B, rows, p, cols, p): the mean error at each phase of each window
        spread = ((means - means.mean(dim=(2, 4), keepdim=True)) ** 2).mean(dim=(2, 4))  # (B, rows, cols)
        total = total + (spread * smooth).mean(dim=(1, 2))
    return total
