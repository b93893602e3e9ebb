"""What a coding job runs with: one dataclass shared by the API, the local and Ray engines and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from compact.errors import CompactError
from compact.picture import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from compact.codec import Codec


@dataclass(frozen=True)
class CodecSpec:
    """Model, backend, quality and pixel limit; pickled to worker processes and Ray actors, each of which
    builds its own :class:`~compact.codec.Codec` (so its own sessions) from it.

    ``max_pixels``: refuse larger images; 0 or None means no limit (the CLI's ``--max-pixels 0``).
    """

    model: str = "default"  # a folder path must be readable at the same path on every worker
    backend: str = "auto"
    quality: int | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    frame: int = 0  # of an animation or multi-page file, the frame or page to code
    refine: int = 0  # compress: steps of encoder-side refinement (0: none; needs torch)

    def __post_init__(self) -> None:
        if self.max_pixels is not None and self.max_pixels < 0:
            raise CompactError(f"the pixel limit must be 0 (no limit) or positive, got {self.max_pixels}")
        if self.max_pixels == 0:
            object.__setattr__(self, "max_pixels", None)
        if self.frame < 0:
            raise CompactError(f"frames count from 0, got {self.frame}")
        if self.refine < 0:
            raise CompactError(f"refinement steps must be 0 (off) or more, got {self.refine}")
        if self.quality is not None and self.quality < 1:
            raise CompactError(f"quality levels start at 1, got {self.quality}")

    def codec(self, threads: int | None = None) -> Codec:
        from compact.codec import Codec

        return Codec(self.model, self.backend, max_pixels=self.max_pixels, threads=threads, quality=self.quality,
                     frame=self.frame, refine=self.refine)  # fmt: skip
