"""Pictures in and out of Pillow: the decoding rules, the lossless alpha plane and the files we write.

A :class:`Picture` is what COMPACT keeps of an image: the RGB it codes (lossy), an alpha plane (lossless)
and the ICC profile. docs/FORMAT.md ("Colour") states the conversion rules.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from compact.errors import FormatError, ImageError
from compact.files import IMAGE_SUFFIXES, write_atomic

#: Pillow's own decompression-bomb threshold; ``max_pixels`` arguments raise or lower it per call.
DEFAULT_MAX_PIXELS = 89_478_485
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_ICC_MODES = ("RGB", "RGBA", "P", "PA")
_KEYED_MODES = ("P", "1", "L", "RGB")  # modes whose info["transparency"] Pillow's convert("RGBA") applies
_WIDE_GREY = ("I;16", "I;16B", "I;16L", "I")  # modes whose ICC profile still describes the RGB we encode
#: zlib level of written PNGs: level 1 writes a Kodak image in ~30 ms instead of ~160 ms for 17% more bytes
PNG_LEVEL = 1


@dataclass
class Picture:
    """What COMPACT keeps of an image: RGB (lossy, coded), alpha (lossless) and the ICC profile."""

    rgb: np.ndarray  # HxWx3 uint8
    alpha: np.ndarray | None = None  # HxW uint8
    icc: bytes | None = None
    frames: int = 1  # frames (or pages) of the source file; only ``frame`` of them is here
    frame: int = 0

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

    EXIF orientation is applied; 16/32-bit greyscale (either byte order) is scaled to 8 bits; palette images
    expand to RGB(A); CMYK converts with Pillow's formula; alpha (RGBA, LA, PA, or a transparency key of any
    mode: PNG tRNS, GIF transparency) is kept losslessly; the ICC profile is kept when it describes RGB (a
    greyscale or CMYK profile no longer would).
    """
    image = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile") if image.mode in _ICC_MODES else None
    if image.mode in _WIDE_GREY:
        return _wide_grey(image)
    has_alpha = image.mode in _ALPHA_MODES or (image.mode in _KEYED_MODES and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        return Picture(np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3]), icc or None)
    return Picture(np.asarray(image.convert("RGB")), None, icc or None)


def frame_note(source: object, picture: Picture) -> str | None:
    """The one line that says a multi-frame source lost frames, or None."""
    if picture.frames <= 1:
        return None
    return f"{source} has {picture.frames} frames or pages; frame {picture.frame} was coded (--frame N picks another)"


def _wide_grey(image: Image.Image) -> Picture:
    """16- or 32-bit greyscale -> 8-bit grey RGB (value / 256, clipped: the top 8 of 16 bits), and its
    transparency key as alpha."""
    values = np.asarray(image).astype(np.int64)  # numpy reads I;16B and I;16L in their own byte order
    grey = np.clip(values >> 8, 0, 255).astype(np.uint8)
    key = image.info.get("transparency")
    alpha = None if not isinstance(key, int) else np.where(values == key, 0, 255).astype(np.uint8)
    return Picture(np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), alpha)


class NamedBytes(io.BytesIO):
    """A file's bytes (from a pipe, Ray Data, ...) that print as its name, so errors name it as for a path."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name

    def __repr__(self) -> str:
        return repr(self.name)

    def __str__(self) -> str:
        return self.name


def readable_suffixes() -> frozenset[str]:
    """Suffixes of the files a folder run tries: ours, and every extension Pillow registers here (TGA, DDS,
    PSD, ICO, PPM, QOI, ...); a file Pillow then cannot decode is reported as a failure, not skipped."""
    return IMAGE_SUFFIXES | {ext.lower() for ext in Image.registered_extensions()}


#: What Pillow's plugins raise on files they cannot or will not decode: bad data (parsers of hostile files
#: also fail with struct, index, key, type and arithmetic errors), formats they do not implement (DDS), sizes
#: their decoders cannot allocate, and the decompression-bomb guard.
_PILLOW_FAILURES = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, NotImplementedError,
                    MemoryError, Image.DecompressionBombError, struct.error, IndexError, KeyError, TypeError,
                    ZeroDivisionError, OverflowError)  # fmt: skip


@contextmanager
def _native_stderr_dropped() -> Iterator[None]:
    """Drop what C libraries (libtiff: "LZWDecode: Not enough data ...") print on file descriptor 2 while
    Pillow decodes: a failure reaches the user as one error line, and a success prints nothing."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def load_picture(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 frame: int = 0) -> Picture:  # fmt: skip
    """Open any image Pillow reads; refuse more than ``max_pixels`` pixels (None: no limit) from the header,
    before any pixel is decoded. Of an animation or a multi-page file, ``frame`` (0: the first) is read.

    Pillow's own process-wide guard is left as it is: it still stops an embedded image (an ICO or ICNS
    member) larger than its header says, and files over twice its threshold (178,956,970 pixels) whatever
    ``max_pixels`` allows. Pillow's warnings and its C libraries' messages are not ours to print: dropped.
    """
    try:
        with warnings.catch_warnings(), _native_stderr_dropped():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                if max_pixels is not None and im.width * im.height > max_pixels:
                    raise ImageError(
                        f"{path} has {im.width}x{im.height} pixels, over the limit of {max_pixels} "
                        "(a decompression-bomb guard; raise it with --max-pixels)"
                    )
                frames = getattr(im, "n_frames", 1)
                if not 0 <= frame < frames:
                    raise ImageError(f"{path} has {frames} frame(s): --frame must be 0..{frames - 1}, got {frame}")
                im.seek(frame)
                im.load()
                return replace(to_picture(im), frames=frames, frame=frame)
    except FileNotFoundError as exc:
        raise ImageError(f"no such image: {path}") from exc
    except IsADirectoryError as exc:
        raise ImageError(f"{path} is a folder, not an image") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path} holds more pixels than it declares or than Pillow will decode: {exc}") from exc
    except _PILLOW_FAILURES as exc:
        raise ImageError(f"cannot read image {path}: {exc or type(exc).__name__}") from exc


def encode_alpha(alpha: np.ndarray) -> bytes:
    """Alpha plane -> PNG bytes (lossless)."""
    buf = io.BytesIO()
    Image.fromarray(alpha, "L").save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def decode_alpha(data: bytes, width: int, height: int) -> np.ndarray:
    """PNG bytes from a stream -> HxW uint8, checked against the stream's size before decoding."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (width, height) or im.mode != "L" or im.format != "PNG":
                raise FormatError(f"alpha block is a {im.format} {im.mode} {im.size}, not a {width}x{height} L PNG")
            im.load()
            return np.asarray(im)
    except _PILLOW_FAILURES as exc:
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
