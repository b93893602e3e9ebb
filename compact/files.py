"""File utilities every stage shares: one rule for atomic writes, one folder walk, one overwrite check.

An output is written under a hidden temporary name beside its target and renamed into place, so an output
that exists is complete: a crash or Ctrl-C never leaves a half-written file, and resumable jobs can trust
whatever they find.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from compact.errors import DataError, OutputExistsError

#: File suffixes treated as images when walking folders (training, context fitting, batch compression).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".avif", ".jp2"})


def partial_name(path: str | os.PathLike[str]) -> str:
    """The temporary name an output is written under before it is renamed into place."""
    target = PurePosixPath(os.fspath(path)) if not isinstance(path, Path) else path
    return str(target.with_name(f".{target.name}.partial"))


def check_overwrite(path: Path, force: bool) -> None:
    """Refuse to replace an existing output unless ``force``."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to overwrite)")


def write_with(path: Path, writer: Callable[[Path], None], force: bool = False) -> None:
    """Call ``writer`` on the temporary path, then rename it to ``path``; nothing is left on failure."""
    path = Path(path)
    check_overwrite(path, force)
    tmp = Path(partial_name(path))
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    write_with(path, lambda tmp: tmp.write_bytes(data), force)


def require_folder(path: Path, what: str = "data folder") -> Path:
    if not Path(path).is_dir():
        raise DataError(f"{what} not found: {path}")
    return Path(path)


def find_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursively), sorted."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
