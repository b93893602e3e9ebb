"""Fit a model's context model on training photos (``compact fit-context``); runs on any backend, no torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compact.codec import Codec, as_rgb
from compact.entropy import CONTEXT_FILE, ContextModel
from compact.errors import DataError, ImageError
from compact.image import find_images, write_atomic


def fit_context(codec: Codec, data: Path, max_images: int | None = None,
                progress: Callable[[Path], None] | None = None) -> ContextModel:  # fmt: skip
    """Encode every readable image under ``data``, fit the context model, store it in the model folder."""
    if not data.is_dir():
        raise DataError(f"data folder not found: {data}")
    paths = find_images(data)[:max_images]
    codes = []
    for path in paths:
        try:
            rgb = as_rgb(path)
        except ImageError:
            continue  # the fit is statistics over many images; an unreadable one is simply not counted
        codes.append(codec.encode_bits(rgb))
        if progress is not None:
            progress(path)
    if not codes:
        raise DataError(f"no readable images under {data}")
    model = ContextModel.fit(codes)
    write_atomic(codec.bundle.root / CONTEXT_FILE, model.to_json().encode(), force=True)
    codec.bundle.register("context", CONTEXT_FILE)
    return model
