"""A decode-side filter that removes the decoder's grid from smooth areas (issue 13: "no grid").

The decoder draws each 16-px code cell from its bits and up-samples with convolution + pixel shuffle; where
the sub-pixel filters of its 1/4- and 1/2-resolution stages disagree they leave a faint pattern of period
8 and 4 px, and a cell's middle and its edges come out a little differently (16 px). The pattern is a few
tenths of a level to a few levels: nothing to the MSE, plain to see in skies and gradients. Penalties in
training brought it down from 29x to 7x the original's spectral peak (docs/TRAINING.md) but not away, so
the reader removes it, as video decoders run a deblocking filter after the transform.

At each pixel the filter estimates the part of the picture that repeats every 16 px nearby: the mean of the
3 x 3 pixels at the same phase one period apart, minus the mean over three whole periods, less its own mean
over one period (so that nothing smooth is touched). It subtracts that estimate where the picture is smooth
(fully below 0.5 levels RMS between neighbouring pixels, fading out by 2 levels) and the estimate faint
(fully up to 2 levels RMS, fading out by 4), and leaves texture and strong regular patterns alone: there a
pattern that repeats every cell is the subject's own, and a grid would not show.

Everything is integer arithmetic with exact divisions, so numpy and the browser reader
(``runtimes/web/lib/degrid.js``) give the same bytes; pictures are filtered in bands of rows, each with the
margin the filter reaches, so memory stays bounded and the result is that of the whole picture. A model's
manifest says whether readers run it (``degrid``); the decoder networks themselves are unchanged.
"""

from __future__ import annotations

import numpy as np

#: the pattern's period (px): one code cell. The 1/4- and 1/2-resolution stages' period-2 patterns (8 and
#: 4 px) repeat in it, and so does any difference between how the decoder draws a cell's middle and its edges
PERIOD = 16
#: the mean over whole periods spans this many periods (3: the same-phase pixels one period either side)
SPAN = 3
#: roughness (mean squared difference between neighbouring grey pixels, levels^2) up to which the filter acts
#: fully and at which it has faded out, in quarter levels^2: 0.5^2 and 2^2 levels^2 (chosen on held-out
#: training photos, where it gains 0.002-0.008 dB, and on smooth pictures other than the test's: docs/TRAINING.md)
SMOOTH_QUARTERS = (1, 16)
#: mean square of the estimated pattern per channel (levels^2) up to which it is taken for the decoder's grid
#: and removed fully, and from which it is taken for the picture's own and left alone, in quarter levels^2:
#: 2^2 and 4^2 levels^2 (RMS 2 and 4 levels). The grid is a few tenths of a level to a level or two; a
#: regular pattern on a flat background (a checkerboard of 8 px squares) is smooth once the pattern is
#: taken out, so roughness alone would not spare it
FAINT_QUARTERS = (16, 64)
#: the roughness and the pattern's strength are averaged over a square of this radius (px)
ROUGH_RADIUS = 16
#: rows filtered at a time (128: on a 12 MP picture 15% faster than 256 and 192 MB at peak instead of 304)
BAND = 128
#: the filter reads the decoder's picture in sixteenths of a level (``geometry.to_sixteenths``): the grid is
#: often a few tenths of a level, which rounding to whole levels would turn into a pattern of its own
UNIT = 16

_BOX = PERIOD * SPAN // 2  # the mean over SPAN whole periods reaches this far either side (end taps half)
_MEAN = PERIOD // 2  # the mean over one period, likewise
_REACH = _BOX + _MEAN  # how far the periodic estimate reads
#: how far the filter reads: the estimate, then the roughness of the cleaned picture around it (+1: a difference)
MARGIN = _REACH + ROUGH_RADIUS + 1
_WEIGHT_STEPS = 64


def _window(a: np.ndarray, radius: int, axis: int, half_ends: bool = True) -> np.ndarray:
    """Sums over ``radius`` either side of each position along ``axis``, for the positions whose window
    fits (the array shrinks by ``radius`` at each end). With ``half_ends`` the two end taps count half and
    the whole is doubled, so that a window of ``2 * radius`` px weighs every phase of a period that
    divides it the same."""
    a = np.moveaxis(a, axis, 0)
    n = a.shape[0]
    c = np.zeros((n + 1, *a.shape[1:]), a.dtype)
    np.cumsum(a, axis=0, out=c[1:])
    sums = c[2 * radius + 1 :] - c[: n - 2 * radius]
    if half_ends:
        sums = sums + c[2 * radius : n] - c[1 : n - 2 * radius + 1]  # plus the sums over radius - 1
    return np.moveaxis(sums, 0, axis)


def _comb(a: np.ndarray, axis: int) -> np.ndarray:
    """Sums of the ``SPAN`` same-phase pixels around each position along ``axis``, valid positions only."""
    a = np.moveaxis(a, axis, 0)
    n, reach = a.shape[0], PERIOD * (SPAN // 2)
    sums = sum(a[reach + k * PERIOD : n - reach + k * PERIOD] for k in range(-(SPAN // 2), SPAN // 2 + 1))
    return np.moveaxis(sums, 0, axis)


def _round_div(a: np.ndarray, b: int) -> np.ndarray:
    """a / b rounded to the nearest integer, halves up (b > 0), exactly."""
    return (2 * a + b) // (2 * b)


def _trim(a: np.ndarray, cut: int) -> np.ndarray:
    return a[cut : a.shape[0] - cut, cut : a.shape[1] - cut] if cut else a


def _periodic(d: np.ndarray) -> np.ndarray:
    """(H, W, 3) int64 -> the part that repeats every ``PERIOD`` px, times 4 PERIOD^2 (2 PERIOD SPAN)^2, on
    d's interior less ``_REACH`` px."""
    comb = _comb(_comb(d, 0), 1)  # SPAN^2 same-phase pixels
    box = _window(_window(d, _BOX, 0), _BOX, 1)  # SPAN whole periods each way, weight (2 * PERIOD * SPAN)^2
    grid = 4 * PERIOD**2 * _trim(comb, _BOX - PERIOD * (SPAN // 2)) - box  # (2 PERIOD SPAN)^2 (phase - local mean)
    mean = _window(_window(grid, _MEAN, 0), _MEAN, 1)  # its sum over one period, weight (2 * PERIOD)^2
    return 4 * PERIOD**2 * _trim(grid, _MEAN) - mean


def _filter_band(d: np.ndarray) -> np.ndarray:
    """(H, W, 3) int64 sixteenths with ``MARGIN`` px of context on every side -> the filtered interior, uint8."""
    scale = 4 * PERIOD**2 * (2 * PERIOD * SPAN) ** 2
    periodic = _periodic(d)
    estimate = _round_div(periodic, scale)  # in sixteenths
    clean = _trim(d, _REACH) - estimate
    grey = clean.sum(axis=2)  # 3 * grey
    down = (grey[1:, :-1] - grey[:-1, :-1]) ** 2
    right = (grey[:-1, 1:] - grey[:-1, :-1]) ** 2
    # around each output pixel: the differences from ROUGH_RADIUS px before it to ROUGH_RADIUS after it
    rough = _window(_window(down + right, ROUGH_RADIUS, 0, False), ROUGH_RADIUS, 1, False)[1:, 1:]
    # rough / count is the mean squared difference between neighbouring grey pixels, in levels^2
    count = 2 * 9 * (2 * ROUGH_RADIUS + 1) ** 2 * UNIT**2
    lo, hi = SMOOTH_QUARTERS
    weight = np.clip((_WEIGHT_STEPS * (hi * count - 4 * rough)) // ((hi - lo) * count), 0, _WEIGHT_STEPS)
    # the estimate's own strength around each output pixel (the same square): energy / strength is its mean
    # square per channel in levels^2. A grid is faint; a pattern as strong as FAINT_QUARTERS[1] is the picture's
    energy = _window(_window((estimate**2).sum(axis=2), ROUGH_RADIUS, 0, False), ROUGH_RADIUS, 1, False)[1:-1, 1:-1]
    strength = 3 * (2 * ROUGH_RADIUS + 1) ** 2 * UNIT**2
    lo, hi = FAINT_QUARTERS
    faint = np.clip((_WEIGHT_STEPS * (hi * strength - 4 * energy)) // ((hi - lo) * strength), 0, _WEIGHT_STEPS)
    weight = np.minimum(weight, faint)
    periodic = _trim(periodic, MARGIN - _REACH)
    steps = _WEIGHT_STEPS * scale
    out = _round_div(steps * _trim(d, MARGIN) - weight[..., None] * periodic, steps * UNIT)
    return np.clip(out, 0, 255).astype(np.uint8)


def degrid(fine: np.ndarray) -> np.ndarray:
    """HxWx3 sixteenths of a level (uint16) as the decoder drew them -> HxWx3 uint8 with the grid removed
    from the smooth areas. Outside the picture it reads its edge pixels repeated."""
    height = fine.shape[0]
    out = np.empty(fine.shape, np.uint8)
    for y0 in range(0, height, BAND):
        y1 = min(y0 + BAND, height)
        top, bottom = max(0, y0 - MARGIN), min(height, y1 + MARGIN)
        # the neighbouring bands' rows where there are some, the edge repeated beyond the picture
        pad = ((top - (y0 - MARGIN), y1 + MARGIN - bottom), (MARGIN, MARGIN), (0, 0))
        out[y0:y1] = _filter_band(np.pad(fine[top:bottom].astype(np.int64), pad, mode="edge"))
    return out
