"""Measure every codec at every operating point on every image: real file bytes, PSNR and MS-SSIM."""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from compact.codec import Codec, as_rgb
from compact.errors import DataError
from compact.evaluation.msssim import MIN_SIDE, msssim
from compact.evaluation.reference_codecs import REFERENCE_CODECS
from compact.files import find_images, require_folder
from compact.metrics import psnr

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
    paths = find_images(require_folder(data, "evaluation folder"))
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


def measure_image(name: str, rgb: np.ndarray, codecs: list[str], compact: Codec | None) -> list[Measurement]:
    """Every (codec, setting) point of one image; COMPACT's settings are its quality levels."""
    rows = []
    for codec in codecs:
        if codec == COMPACT:
            if compact is None:
                raise DataError("COMPACT is in --codecs but no model was given")
            for quality in range(1, compact.qualities + 1):
                data = compact.compress(rgb, quality=quality)
                rows.append(_measure(name, codec, quality, rgb, data, compact.decompress_array(data)))
            continue
        ref = REFERENCE_CODECS[codec]
        for setting in ref.settings:
            data = ref.encode(rgb, setting)
            rows.append(_measure(name, codec, setting, rgb, data, ref.decode(data)))
    return rows


_worker: tuple[list[str], Codec | None] | None = None  # in a worker process only, made by _init_worker


def _init_worker(codecs: list[str], model: str, backend: str, refine: int) -> None:
    import torch

    global _worker
    torch.set_num_threads(1)  # one image per process: the processes are the parallelism
    _worker = (codecs, Codec(model, backend, threads=1, refine=refine) if COMPACT in codecs else None)


def _measure_in_worker(name: str, rgb: np.ndarray) -> list[Measurement]:
    assert _worker is not None, "worker not initialised"
    return measure_image(name, rgb, *_worker)


def evaluate(images: list[tuple[str, np.ndarray]], codecs: list[str], model: str = "default",
             backend: str = "auto", jobs: int = 1,
             progress: Callable[[str], None] | None = None, refine: int = 0) -> list[Measurement]:  # fmt: skip
    """Measure every image in ``jobs`` worker processes, each with its own codec and single-threaded torch
    (MS-SSIM's many small convolutions slow down badly with threads on a busy machine); rows come back in
    image order. Workers are spawned, not forked: a fork of a process whose torch or onnxruntime threads hold a
    lock can hang forever (seen in the test suite). ``refine``: COMPACT's encoder-side refinement steps."""
    spawn = multiprocessing.get_context("spawn")
    setup = (codecs, model, backend, refine)
    with ProcessPoolExecutor(max(1, jobs), spawn, initializer=_init_worker, initargs=setup) as pool:
        futures = {pool.submit(_measure_in_worker, name, rgb): name for name, rgb in images}
        for future in as_completed(futures):
            if progress is not None:
                progress(futures[future])
        return [row for future in futures for row in future.result()]


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
