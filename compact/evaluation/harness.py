"""Measure every codec at every operating point on every image: real file bytes, PSNR and MS-SSIM."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from compact.codec import Codec, as_rgb
from compact.errors import DataError
from compact.evaluation.reference_codecs import REFERENCE_CODECS
from compact.image import find_images
from compact.metrics import psnr
from compact.training.msssim import MIN_SIDE, msssim

COMPACT = "compact"
ALL_CODECS = (COMPACT, *REFERENCE_CODECS)


@dataclass(frozen=True)
class Measurement:
    image: str
    codec: str
    setting: float  # COMPACT: quality level; others: their swept knob (quality, or J2K compression ratio)
    bytes: int
    bpp: float
    psnr: float
    msssim: float
    width: int
    height: int


def check_codecs(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in ALL_CODECS]
    if unknown:
        raise DataError(f"unknown codec(s) {', '.join(unknown)}; choose from {', '.join(ALL_CODECS)}")
    missing = [n for n in names if n in REFERENCE_CODECS and not REFERENCE_CODECS[n].available()]
    if missing:
        raise DataError(f"this Pillow build lacks {', '.join(missing)}")
    return names


def load_images(data: Path) -> list[tuple[str, np.ndarray]]:
    """Every image under ``data`` as RGB; each must be large enough for MS-SSIM."""
    if not data.is_dir():
        raise DataError(f"evaluation folder not found: {data}")
    paths = find_images(data)
    if not paths:
        raise DataError(f"no images under {data}")
    images = []
    for path in paths:
        rgb = as_rgb(path)
        if min(rgb.shape[:2]) < MIN_SIDE:
            raise DataError(f"{path} is {rgb.shape[1]}x{rgb.shape[0]}; MS-SSIM needs both sides >= {MIN_SIDE} px")
        images.append((path.relative_to(data).as_posix(), rgb))
    return images


def _measure(name: str, codec: str, setting: float, rgb: np.ndarray, data: bytes, rec: np.ndarray) -> Measurement:
    h, w = rgb.shape[:2]
    return Measurement(name, codec, setting, len(data), 8 * len(data) / (w * h), psnr(rgb, rec), msssim(rgb, rec), w, h)


def sweep(images: list[tuple[str, np.ndarray]], codecs: list[str], compact: Codec | None) -> Iterator[Measurement]:
    """Yield one measurement per (image, codec, setting); COMPACT's settings are its quality levels."""
    for name, rgb in images:
        for codec in codecs:
            if codec == COMPACT:
                if compact is None:
                    raise DataError("COMPACT is in --codecs but no model was given")
                for quality in range(1, compact.qualities + 1):
                    data = compact.compress(rgb, quality=quality)
                    yield _measure(name, codec, quality, rgb, data, compact.decompress_array(data))
                continue
            ref = REFERENCE_CODECS[codec]
            for setting in ref.settings:
                data = ref.encode(rgb, setting)
                yield _measure(name, codec, setting, rgb, data, ref.decode(data))


def evaluate(images: list[tuple[str, np.ndarray]], codecs: list[str], compact: Codec | None,
             progress: Callable[[Measurement], None] | None = None) -> list[Measurement]:  # fmt: skip
    rows = []
    for row in sweep(images, codecs, compact):
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def operating_points(codecs: list[str], compact: Codec | None) -> int:
    """Points per image, for a progress bar."""
    return sum(compact.qualities if c == COMPACT and compact else len(REFERENCE_CODECS[c].settings)
               for c in codecs if c == COMPACT or c in REFERENCE_CODECS)  # fmt: skip


def write_csv(rows: list[Measurement], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, [f.name for f in fields(Measurement)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def read_csv(path: Path) -> list[Measurement]:
    with open(path, newline="") as f:
        return [
            Measurement(
                r["image"],
                r["codec"],
                float(r["setting"]),
                int(r["bytes"]),
                float(r["bpp"]),
                float(r["psnr"]),
                float(r["msssim"]),
                int(r["width"]),
                int(r["height"]),
            )  # fmt: skip
            for r in csv.DictReader(f)
        ]
