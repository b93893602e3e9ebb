"""One image through the codec and back, measured: what ``compact run`` reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compact.codec import Codec, as_picture
from compact.metrics import psnr
from compact.picture import frame_note, save_image

#: what ``compact run`` names a reconstruction: NAME.compact.png, beside the report, replaced on every run
RECONSTRUCTION_SUFFIX = ".compact.png"


@dataclass(frozen=True)
class RoundTrip:
    source: Path
    output: Path
    width: int
    height: int
    size: int  # bytes of the .cpt stream
    version: int  # container version the stream got
    psnr: float  # dB on 8-bit RGB
    encode_ms: float  # the networks only
    decode_ms: float
    refine_ms: float | None = None  # the encoder-side search, when the codec refines

    @property
    def bpp(self) -> float:
        return 8 * self.size / (self.width * self.height)

    @property
    def ratio(self) -> float:
        """How many times smaller than raw 24-bit RGB."""
        return 3 * self.width * self.height / self.size


def round_trip(codec: Codec, src: Path, dst: Path, force: bool = False) -> RoundTrip:
    """Compress ``src``, decompress it, write the reconstruction to ``dst`` and measure."""
    picture = as_picture(src, codec.max_pixels, codec.frame)
    data = codec.compress(picture)
    note = frame_note(src, picture)  # compress got the picture, not the file: say it here
    if note is not None:
        codec.notes.append(note)
    encode_ms = codec.timings["encode"]
    refine_ms = codec.timings["refine"] if codec.refine else None  # read before decompress resets the timings
    rec = codec.decompress_picture(data)
    save_image(rec, dst, force=force)
    h, w = picture.rgb.shape[:2]
    return RoundTrip(src, dst, w, h, len(data), data[4], psnr(picture.rgb, rec.rgb), encode_ms,
                     codec.timings["decode"], refine_ms)  # fmt: skip
