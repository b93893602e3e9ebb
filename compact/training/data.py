"""Training data: a folder tree of photos held in memory, sampled as random flipped crops.

The whole training set (about 125 Mpixel here) fits in memory as uint8, which makes a step's data
cost negligible next to the network on a 2-core machine.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compact.errors import DataError, ImageError
from compact.picture import load_picture


def is_holdout(path: Path, root: Path, fraction: float) -> bool:
    """Deterministic split by a hash of the relative path, so it survives added files."""
    key = path.relative_to(root).as_posix().encode()
    return (zlib.crc32(key) % 1000) < round(fraction * 1000)


def load_rgb(path: Path, min_side: int) -> np.ndarray | None:
    """Decode ``path`` to HxWx3 uint8, or warn and return None if unreadable or too small."""
    try:
        rgb = load_picture(path).rgb
    except ImageError as exc:
        warnings.warn(f"skipping unreadable image {path}: {exc}", stacklevel=2)
        return None
    if min(rgb.shape[:2]) < min_side:
        warnings.warn(f"skipping {path}: {rgb.shape[1]}x{rgb.shape[0]} is smaller than {min_side} px", stacklevel=2)
        return None
    return rgb


@dataclass
class ImageSet:
    paths: list[Path]
    images: list[np.ndarray]

    @classmethod
    def load(cls, paths: list[Path], min_side: int) -> ImageSet:
        kept = [(p, a) for p in paths if (a := load_rgb(p, min_side)) is not None]
        if not kept:
            raise DataError(f"no usable images (need at least {min_side} px per side)")
        return cls([p for p, _ in kept], [a for _, a in kept])


class CropSampler:
    """Random crops with horizontal flips; images are drawn with probability ~ sqrt(area).

    ``flat_fraction`` of the samples are synthetic instead: one flat colour, or a gentle gradient between two
    near colours, drawn uniformly over RGB. Photos rarely hold large saturated flat areas (the training set
    is largely grey), and a model trained on them alone decoded a flat (30, 200, 40) image 76 levels off.
    At 0 no random number is drawn for it, so runs without it replay exactly.
    """

    def __init__(self, images: ImageSet, crop: int, rng: np.random.Generator, flat_fraction: float = 0.0):
        self.images = images.images
        self.crop = crop
        self.rng = rng
        self.flat_fraction = flat_fraction
        area = np.array([a.shape[0] * a.shape[1] for a in self.images], dtype=np.float64)
        self.weights = np.sqrt(area) / np.sqrt(area).sum()

    def batch(self, size: int) -> np.ndarray:
        """(size, 3, crop, crop) float32 in [0, 1]."""
        out = np.empty((size, self.crop, self.crop, 3), dtype=np.uint8)
        for i, k in enumerate(self.rng.choice(len(self.images), size=size, p=self.weights)):
            if self.flat_fraction and self.rng.random() < self.flat_fraction:
                out[i] = self._smooth_patch()
                continue
            img = self.images[k]
            top = self.rng.integers(0, img.shape[0] - self.crop + 1)
            left = self.rng.integers(0, img.shape[1] - self.crop + 1)
            patch = img[top : top + self.crop, left : left + self.crop]
            out[i] = patch[:, ::-1] if self.rng.random() < 0.5 else patch
        return out.transpose(0, 3, 1, 2).astype(np.float32) / 255.0


    def _smooth_patch(self) -> np.ndarray:
        """A crop of one flat colour, or (half the time) a linear gradient to a colour up to 48 levels away."""
        first = self.rng.integers(0, 256, 3).astype(np.float32)
        if self.rng.random() < 0.5:
            return np.broadcast_to(first.astype(np.uint8), (self.crop, self.crop, 3))
        second = np.clip(first + self.rng.integers(-48, 49, 3), 0, 255)
        angle = self.rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0 : self.crop, 0 : self.crop] / (self.crop - 1)
        t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
        return np.rint(first * (1 - t) + second * t).astype(np.uint8)


def center_crops(images: ImageSet, size: int) -> np.ndarray:
    """Deterministic validation batch: the central ``size`` square of each image (N, 3, size, size)."""
    crops = []
    for img in images.images:
        top, left = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        crops.append(img[top : top + size, left : left + size])
    return np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
