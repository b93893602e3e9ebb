"""Fit a model's context model on training photos (``compact fit-context``); runs on any backend, no torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compact import roles
from compact.codec import Codec, as_rgb
from compact.entropy import CONTEXT_FILE, ContextModel
from compact.errors import DataError, ImageError, OutputExistsError
from compact.files import find_images, require_folder, write_atomic
from compact.manifest import ModelBundle, default_model_dir


def check_not_installed(bundle: ModelBundle) -> None:
    """A context table is part of the format of every stream coded with it: the installed model's is never
    replaced."""
    if bundle.root.resolve() == default_model_dir().resolve():
        raise OutputExistsError("the installed model's context table decodes every stream made with it and is never "
                                "changed: export the model into a folder of your own (compact export --out DIR) "
                                "and fit that one")  # fmt: skip


def check_replaceable(bundle: ModelBundle, fitted: ContextModel, force: bool) -> None:
    """A folder's own table is replaced by a different one only with ``force`` (the same fit again is fine)."""
    if not bundle.has(roles.CONTEXT) or force:
        return
    current = ContextModel.from_json(bundle.file(roles.CONTEXT).read_text())
    if current.context_id != fitted.context_id:
        raise OutputExistsError(f"{bundle.root} already has a different context model; streams coded with it cannot "
                                "be decoded after it is replaced (use --force to replace it anyway)")  # fmt: skip


def fit_context(codec: Codec, data: Path, max_images: int | None = None,
                progress: Callable[[Path], None] | None = None, force: bool = False) -> ContextModel:  # fmt: skip
    """Encode every readable image under ``data``, fit the context model, store it in the model folder."""
    check_not_installed(codec.bundle)
    paths = find_images(require_folder(data))[:max_images]
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
    check_replaceable(codec.bundle, model, force)
    write_atomic(codec.bundle.root / CONTEXT_FILE, model.to_json().encode(), force=True)
    codec.bundle.register(roles.CONTEXT, CONTEXT_FILE)
    return model
