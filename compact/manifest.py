"""The model manifest: what a runtime needs to know about an exported model, without torch."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from compact.config import ModelConfig
from compact.errors import ModelError
from compact.files import write_atomic

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
BIT_ORDER = "chw-c-order;plus1=1;msb-first"


def hash_path(path: Path) -> str:
    """SHA-256 of a file, or of a folder (an .mlpackage) as its sorted relative paths and contents."""
    h = hashlib.sha256()
    if path.is_dir():
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(sub.relative_to(path).as_posix().encode() + b"\0")
            h.update(sub.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class ModelManifest:
    model_id: str  # 16 hex digits; the container stores them as 8 bytes
    config: ModelConfig
    files: dict[str, str]  # role -> relative path, e.g. "onnx_encoder" -> "encoder.onnx"
    hashes: dict[str, str]  # relative path -> sha256
    bit_order: str = BIT_ORDER
    exporters: dict[str, str] = field(default_factory=dict)
    onnx_opset: int | None = None
    coreml: dict[str, object] = field(default_factory=dict)  # precision, shapes strategy, compute units
    description: str = ""
    manifest_version: int = MANIFEST_VERSION
    #: terms of the exported files (SPDX id of the code's license; the weights' terms are in the model card)
    license: str = ""
    compact_version: str = ""  # the package version that exported it
    model_card: str = ""
    #: readers run compact.degrid on what the decoder draws (it removes the sub-pixel grid from smooth
    #: areas); absent in manifests written before it, which decode as they always did
    degrid: bool = False

    @property
    def model_id_bytes(self) -> bytes:
        return bytes.fromhex(self.model_id)

    def to_json(self) -> str:
        data = asdict(self)
        data["config"] = self.config.to_dict()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelManifest:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ModelError("manifest is not a JSON object")
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise ModelError(f"unsupported manifest version {data.get('manifest_version')}")
        data["config"] = ModelConfig.from_dict(data["config"])
        manifest = cls(**data)
        if len(manifest.model_id) != 16 or not all(c in "0123456789abcdef" for c in manifest.model_id):
            raise ModelError(f"bad model id {manifest.model_id!r} in manifest")
        if manifest.bit_order != BIT_ORDER:
            raise ModelError(f"unsupported bit order {manifest.bit_order!r}")
        return manifest


@dataclass
class ModelBundle:
    """A folder with a manifest and the exported files it lists."""

    root: Path
    manifest: ModelManifest

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> ModelBundle:
        root = Path(root)
        path = root / MANIFEST_NAME
        try:
            manifest = ModelManifest.from_json(path.read_text())
        except FileNotFoundError as exc:
            raise ModelError(f"no {MANIFEST_NAME} in model folder {root}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"invalid manifest {path}: {exc}") from exc
        return cls(root, manifest)

    def has(self, role: str) -> bool:
        return role in self.manifest.files and (self.root / self.manifest.files[role]).exists()

    def register(self, role: str, rel: str) -> None:
        """List a file (already written in the folder) under ``role`` and rewrite manifest.json."""
        self.manifest.files[role] = rel
        self.manifest.hashes[rel] = hash_path(self.root / rel)
        write_atomic(self.root / MANIFEST_NAME, self.manifest.to_json().encode(), force=True)

    def file(self, role: str) -> Path:
        """Path of a listed file, checked against its recorded hash."""
        if role not in self.manifest.files:
            raise ModelError(f"model {self.root} has no {role.replace('_', ' ')} file (export it first)")
        rel = self.manifest.files[role]
        path = self.root / rel
        if not path.exists():
            raise ModelError(f"model file missing: {path}")
        if hash_path(path) != self.manifest.hashes.get(rel):
            raise ModelError(f"model file {path} does not match the hash in its manifest")
        return path


MODELS_DIR = Path(__file__).parent / "models"
#: names the default model's folder; every shipped model lives in a folder named by its id, so a new default
#: adds a folder and changes this line, and the earlier ones stay where their streams find them
DEFAULT_POINTER = "DEFAULT"


def default_model_dir() -> Path:
    name = (MODELS_DIR / DEFAULT_POINTER).read_text().strip()
    return MODELS_DIR / name


def installed_model_dir(model_id: str) -> Path | None:
    """The folder of a model that ships with the package (named by its 16-digit id): the default or an earlier
    one, so streams made with an earlier default still decode after the default changes; None if there is none."""
    if len(model_id) != 16 or not all(c in "0123456789abcdef" for c in model_id):
        return None
    folder = MODELS_DIR / model_id
    return folder if (folder / MANIFEST_NAME).is_file() else None


def resolve_model(model: str | os.PathLike[str] | None) -> ModelBundle:
    """``None`` or "default" -> the shipped model; the id of an earlier default that ships with the package
    -> that model; anything else is a folder with a manifest."""
    if model is None or str(model) == "default":
        return ModelBundle.load(default_model_dir())
    installed = installed_model_dir(str(model))
    if installed is not None and not Path(model).exists():
        return ModelBundle.load(installed)
    return ModelBundle.load(Path(model))


def describe_model(bundle: ModelBundle) -> dict[str, object]:
    """What ``compact info --model`` shows: the model, its files and the terms it comes under."""
    from compact.about import LICENSE, MODEL_CARD, __version__

    m = bundle.manifest
    levels = m.config.levels
    rows: dict[str, object] = {
        "model id": m.model_id,
        "folder": bundle.root,
        "architecture": f"N={m.config.channels}, C={m.config.latent_channels}, encoder widths "
        f"{list(m.config.encoder_hidden)}, decoder widths {list(m.config.decoder_hidden)}",
        "quality levels": ", ".join(f"{q}: {c} planes ({c / 256:.4f} bpp raw)" for q, c in enumerate(levels, 1)),
        "default quality": m.config.default_quality,
        "grid filter": "on: readers remove the decoder's grid from smooth areas (compact/degrid.py)" if m.degrid
        else "off",
        "files": ", ".join(f"{role}={rel}" for role, rel in sorted(m.files.items())),
        "exported by": f"compact {m.compact_version}" if m.compact_version else "an earlier compact (no version)",
        "code license": m.license or f"{LICENSE} (this package, compact {__version__})",
        "model card": m.model_card or MODEL_CARD,
    }
    if bundle.root.resolve() == default_model_dir().resolve():
        rows["weights' terms"] = "trained partly on research-use-only images: read the model card before embedding"
    return rows
