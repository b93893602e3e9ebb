"""The codecs COMPACT is measured against, through Pillow, each with its sweep of operating points.

Bytes are Pillow's real output files; settings are each format's usual knob, swept densely at the low end
so every codec gets as close to the paper's ~0.065 bpp as it can.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, features


@dataclass(frozen=True)
class ReferenceCodec:
    name: str
    pil_format: str
    knob: str  # the swept save() argument
    settings: tuple[float, ...]
    fixed: dict[str, Any] = field(default_factory=dict)  # other save() arguments, the same at every point
    feature: str | None = None  # Pillow feature that must be compiled in

    def available(self) -> bool:
        return self.feature is None or bool(features.check(self.feature))

    def encode(self, rgb: np.ndarray, setting: float) -> bytes:
        out = io.BytesIO()
        value: Any = [setting] if self.knob == "quality_layers" else int(setting)
        Image.fromarray(rgb).save(out, self.pil_format, **{self.knob: value}, **self.fixed)
        return out.getvalue()

    @staticmethod
    def decode(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"))


JPEG = ReferenceCodec(
    "jpeg", "JPEG", "quality",
    (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 90, 95),
    {"subsampling": 2, "optimize": True},  # 4:2:0 with optimized Huffman tables
)  # fmt: skip
WEBP = ReferenceCodec(
    "webp", "WEBP", "quality",
    (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100),
    {"method": 6}, "webp",
)  # fmt: skip
AVIF = ReferenceCodec(
    "avif", "AVIF", "quality",
    (0, 1, 2, 4, 6, 8, 10, 15, 20, 30, 40, 50, 60, 75, 90),
    {"speed": 6, "subsampling": "4:2:0"}, "avif",
)  # fmt: skip
JPEG2000 = ReferenceCodec(
    "jpeg2000", "JPEG2000", "quality_layers",  # compression ratio vs 24-bit RGB: bpp = 24 / ratio
    (1500, 1200, 1000, 800, 600, 400, 300, 200, 150, 100, 70, 50, 30, 20, 10),
    {"quality_mode": "rates", "irreversible": True}, "jpg_2000",
)  # fmt: skip

REFERENCE_CODECS = {c.name: c for c in (JPEG, WEBP, AVIF, JPEG2000)}
