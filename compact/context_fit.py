"""Fit a model's context model on training photos (``compact fit-context``); runs on any backend, no torch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compact import roles
from compact.codec import Codec, as_rgb
from compact.entropy import CONTEXT_FILE, ContextModel, choose_parents
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


def replaced_table(bundle: ModelBundle, fitted: ContextModel, force: bool) -> ContextModel | None:
    """The folder's own table if ``fitted`` replaces it, which takes ``force`` (the same fit again is fine)."""
    if not bundle.has(roles.CONTEXT):
        return None
    current = ContextModel.from_json(bundle.file(roles.CONTEXT).read_text())
    if current.context_id == fitted.context_id:
        return None
    if not force:
        raise OutputExistsError(f"{bundle.root} already has a different context model {current.context_id} (use "
                                "--force to replace it; it stays in the folder, and its streams still decode)")
    return current


def keep_earlier(bundle: ModelBundle, table: ContextModel) -> None:
    """Keep a replaced table beside the new one: streams coded with it name it, and still decode."""
    rel = f"context-{table.context_id}.json"
    write_atomic(bundle.root / rel, table.to_json().encode(), force=True)
    bundle.register(roles.earlier_context(table.context_id), rel)


def fit_context(codec: Codec, data: Path, max_images: int | None = None,
                progress: Callable[[Path], None] | None = None, force: bool = False,
                layout: int = 2) -> ContextModel:  # fmt: skip
    """Encode every readable image under ``data``, fit the context model, store it in the model folder.

    Layout 2 (the default) searches each row's parent channels on the same codes; layout 1 takes the
    four channels below (docs/FORMAT.md)."""
    if layout not in (1, 2):
        raise DataError(f"context layout must be 1 or 2, got {layout}")
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
    model = ContextModel.fit(codes, choose_parents(codes) if layout == 2 else None)
    replaced = replaced_table(codec.bundle, model, force)
    if replaced is not None:
        keep_earlier(codec.bundle, replaced)
    write_atomic(codec.bundle.root / CONTEXT_FILE, model.to_json().encode(), force=True)
    codec.bundle.register(roles.CONTEXT, CONTEXT_FILE)
    return model
