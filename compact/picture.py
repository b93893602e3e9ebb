"""Pictures in and out of Pillow: the decoding rules, the lossless alpha plane and the files we write.

A :class:`Picture` is what COMPACT keeps of an image: the RGB it codes (lossy), an alpha plane (lossless)
and the ICC profile. docs/FORMAT.md ("Colour") states the conversion rules.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from compact.errors import FormatError, ImageError
from compact.files import write_atomic

#: Pillow's own decompression-bomb threshold; ``max_pixels`` arguments raise or lower it per call.
DEFAULT_MAX_PIXELS = 89_478_485
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_ICC_MODES = ("RGB", "RGBA", "P", "PA")  # modes whose ICC profile still describes the RGB we encode
#: zlib level of written PNGs: level 1 writes a Kodak image in ~30 ms instead of ~160 ms for 17% more bytes
PNG_LEVEL = 1


@dataclass
class Picture:
    """What COMPACT keeps of an image: RGB (lossy, coded), alpha (lossless) and the ICC profile."""

    rgb: np.ndarray  # HxWx3 uint8
    alpha: np.ndarray | None = None  # HxW uint8
    icc: bytes | None = None

    def to_pil(self) -> Image.Image:
        if self.alpha is None:
            image = Image.fromarray(self.rgb, "RGB")
        else:
            image = Image.fromarray(np.dstack([self.rgb, self.alpha]), "RGBA")
        if self.icc is not None:
            image.info["icc_profile"] = self.icc
        return image


def to_picture(image: Image.Image) -> Picture:
    """Any Pillow image -> Picture, by the rules in docs/FORMAT.md ("Colour").

    EXIF orientation is applied; 16/32-bit greyscale is scaled to 8 bits; palette images expand to RGB(A);
    CMYK converts with Pillow's formula; alpha (RGBA, LA, PA or palette transparency) is kept losslessly;
    the ICC profile is kept when it describes RGB (a greyscale or CMYK profile no longer would).
    """
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile") if image.mode in _ICC_MODES else None
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    has_alpha = image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        return Picture(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]), icc or None)
    return Picture(np.asarray(image.convert("RGB")), None, icc or None)


@contextmanager
def _pixel_limit(max_pixels: int | None) -> Iterator[None]:
    # Pillow's limit is a module global; set it only around our own open() and restore it.
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_picture(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """Open any image Pillow reads; refuse more than ``max_pixels`` pixels (None: no limit)."""
    try:
        with _pixel_limit(None), Image.open(path) as im:
            if max_pixels is not None and im.width * im.height > max_pixels:
                raise ImageError(
                    f"{path} has {im.width}x{im.height} pixels, over the limit of {max_pixels} "
                    "(a decompression-bomb guard; raise it with --max-pixels)"
                )
            im.load()
            return to_picture(im)
    except FileNotFoundError as exc:
        raise ImageError(f"no such image: {path}") from exc
    except IsADirectoryError as exc:
        raise ImageError(f"{path} is a folder, not an image") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from exc


def encode_alpha(alpha: np.ndarray) -> bytes:
    """Alpha plane -> PNG bytes (lossless)."""
    buf = io.BytesIO()
    Image.fromarray(alpha, "L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def decode_alpha(data: bytes, width: int, height: int) -> np.ndarray:
    """PNG bytes from a stream -> HxW uint8, checked against the stream's size before decoding."""
    try:
        with _pixel_limit(None), Image.open(io.BytesIO(data)) as im:
            if im.size != (width, height) or im.mode != "L" or im.format != "PNG":
                raise FormatError(f"alpha block is a {im.format} {im.mode} {im.size}, not a {width}x{height} L PNG")
            im.load()
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise FormatError(f"alpha block is corrupt: {exc}") from exc


def save_image(image: np.ndarray | Picture, path: Path, force: bool = False) -> None:
    """Save as PNG (or any format Pillow infers from the suffix) with alpha and ICC profile, atomically."""
    write_atomic(Path(path), image_bytes(image, path), force=force)


def image_bytes(image: np.ndarray | Picture, path: str | os.PathLike[str]) -> bytes:
    """The file :func:`save_image` writes, as bytes (the format comes from the suffix of ``path``): for writers
    that are not local files, such as the Ray engine's."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"unknown image format for {path} (use .png)")
    picture = image if isinstance(image, Picture) else Picture(image)
    pil = picture.to_pil()
    if fmt == "JPEG" and pil.mode == "RGBA":
        raise ImageError(f"{path}: JPEG cannot store the alpha channel (use .png)")
    buf = io.BytesIO()
    extra: dict[str, object] = {"icc_profile": picture.icc} if picture.icc is not None else {}
    if fmt == "PNG":
        extra["compress_level"] = PNG_LEVEL
    try:
        pil.save(buf, format=fmt, **extra)
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"cannot write {path}: {exc}") from exc
    return buf.getvalue()
