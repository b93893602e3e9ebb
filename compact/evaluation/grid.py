"""How much periodic grid a codec adds: spectral peaks at periods of 4, 8 and 16 px, decoded against original.

Sub-pixel up-convolutions (convolution + pixel shuffle) leave a faint pattern whose period is a power of two
when their sub-pixel filters disagree. On a smooth picture such a pattern is a sharp peak in the 2-D
spectrum at frequency 1/period along each axis. A peak's prominence is its magnitude over the median
magnitude of the spectrum's bins at the same radius (the background at that frequency); the score of a
period is the decoded picture's prominence divided by the original's, so 1 means "no grid added".
"""

from __future__ import annotations

import numpy as np

PERIODS = (4, 8, 16)


def smooth_picture(size: int = 256, seed: int = 0) -> np.ndarray:
    """A smooth synthetic photo stand-in (HxWx3 uint8): broad colour gradients and slow waves, no edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(0.2, 0.8, 3)
        fx, fy = rng.uniform(0.5, 1.5, 2)
        wave = 0.25 * np.sin(2 * np.pi * (fx * x + fy * y) + rng.uniform(0, 2 * np.pi))
        channels.append(a * x + b * (1 - y) + c * 0.5 + wave)
    img = np.stack(channels, axis=2)
    img = (img - img.min()) / (img.max() - img.min())
    return np.rint(40 + 175 * img).astype(np.uint8)


def _spectrum(rgb: np.ndarray) -> np.ndarray:
    """Magnitude spectrum of the grey picture under a Hann window (without it, the picture's edges, which
    the FFT sees as jumps, smear energy along both axes and hide a grid's peaks there)."""
    grey = rgb.astype(np.float64).mean(axis=2)
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    return np.abs(np.fft.fft2((grey - grey.mean()) * window))


def _prominence(spectrum: np.ndarray, period: int) -> float:
    """Mean magnitude at the grid's bins (1/period along x, along y, and both) over the median at that radius."""
    h, w = spectrum.shape
    ky, kx = h // period, w // period
    peaks = [spectrum[0, kx], spectrum[ky, 0], spectrum[ky, kx], spectrum[0, -kx], spectrum[-ky, 0]]
    fy, fx = np.meshgrid(np.fft.fftfreq(h) * h / ky, np.fft.fftfreq(w) * w / kx, indexing="ij")
    radius = np.hypot(fy, fx)
    ring = spectrum[(radius > 0.85) & (radius < 1.6)]
    return float(np.mean(peaks) / max(np.median(ring), 1e-9))


def grid_scores(original: np.ndarray, decoded: np.ndarray, periods: tuple[int, ...] = PERIODS) -> dict[int, float]:
    """Period (px) -> the decoded picture's peak prominence over the original's (1: no grid added)."""
    if original.shape != decoded.shape:
        raise ValueError(f"shapes differ: {original.shape} vs {decoded.shape}")
    a, b = _spectrum(original), _spectrum(decoded)
    return {p: _prominence(b, p) / _prominence(a, p) for p in periods}
