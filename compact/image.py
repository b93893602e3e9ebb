"""Image I/O (Pillow) and the padding/cropping that keeps the models at multiples of the stride."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from compact.config import STRIDE
from compact.errors import ImageError, OutputExistsError


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any Pillow image -> HxWx3 uint8, EXIF orientation applied (alpha is dropped in format v1)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    return np.asarray(image.convert("RGB"))


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            return to_rgb_array(im)
    except FileNotFoundError as exc:
        raise ImageError(f"no such image: {path}") from exc
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from exc


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> (1, 3, H', W') float32 in [0, 1], edge-padded to multiples of the stride.

    Edge (replicate) padding works for every size down to 1x1, which reflect padding does not.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise ImageError(f"expected an HxWx3 uint8 image, got {rgb.dtype} array of shape {rgb.shape}")
    h, w = rgb.shape[:2]
    ph, pw = -h % STRIDE, -w % STRIDE
    padded = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)


def from_model_output(x: np.ndarray, width: int, height: int) -> np.ndarray:
    """(1, 3, H', W') float in ~[0, 1] -> HxWx3 uint8 cropped to the original size."""
    img = x[0, :, :height, :width].transpose(1, 2, 0)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def write_atomic(path: Path, data: bytes, force: bool = False) -> None:
    """Write via a temporary file and rename, so a failure never leaves a partial output."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to overwrite)")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_image(rgb: np.ndarray, path: Path, force: bool = False) -> None:
    """Save as PNG (or any format Pillow infers from the suffix), atomically."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"unknown image format for {path} (use .png)")
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format=fmt)
    write_atomic(path, buf.getvalue(), force=force)
