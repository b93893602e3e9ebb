"""``compact export``: a checkpoint -> a model folder (weights, ONNX, Core ML, manifest.json)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from pathlib import Path

from compact.errors import ModelError
from compact.export.fold import fold_for_export
from compact.image import write_atomic
from compact.manifest import MANIFEST_NAME, ModelManifest, hash_path
from compact.training.checkpoint import WEIGHTS, load_model, model_id, save_weights

TARGETS = ("onnx", "coreml", "all")


def _versions() -> dict[str, str]:
    names = ("torch", "onnx", "onnxscript", "coremltools")
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _previous(out: Path, mid: str) -> ModelManifest | None:
    """An existing manifest of the same model in ``out``, so ONNX and Core ML exports can be done separately."""
    path = out / MANIFEST_NAME
    if not path.exists():
        return None
    try:
        old = ModelManifest.from_json(path.read_text())
    except (ModelError, ValueError, KeyError, TypeError):
        return None
    return old if old.model_id == mid else None


def _move_into(staging: Path, out: Path) -> None:
    """Replace files (and .mlpackage folders) in ``out`` by those built in ``staging``."""
    for item in staging.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        os.replace(item, target)


def export_model(checkpoint: Path, out: Path, target: str = "all", precision: str = "fp16",
                 int8_calibration: Path | None = None) -> ModelManifest:  # fmt: skip
    """Export into ``out``. Every file is built in a staging folder first and the manifest is written last,
    so a failed export leaves a previous export in ``out`` untouched."""
    if target not in TARGETS:
        raise ModelError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    model = load_model(checkpoint).freeze()
    mid = model_id(model)
    graphs = fold_for_export(model)  # what the runtimes execute; the weights file keeps the trained tensors
    out.mkdir(parents=True, exist_ok=True)
    metadata = {"model_id": mid, "config": json.dumps(model.config.to_dict()), "compact_format": "1"}
    previous = _previous(out, mid)
    files = dict(previous.files) if previous else {}
    coreml_info = dict(previous.coreml) if previous else {}

    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        staging = Path(tmp)
        save_weights(model, staging / WEIGHTS)
        files["weights"] = WEIGHTS
        if target in ("onnx", "all"):
            from compact.export.onnx_export import export_onnx

            paths = export_onnx(graphs.encoder, graphs.decoder, model.config.latent_channels, staging, metadata)
            files.update({role: p.name for role, p in paths.items()})
            if int8_calibration is not None:
                from compact.export.quantize import quantize_decoder

                int8 = quantize_decoder(paths["onnx_decoder"], paths["onnx_encoder"], int8_calibration,
                                        staging / "decoder.int8.onnx")  # fmt: skip
                files["onnx_decoder_int8"] = int8.name
        if target in ("coreml", "all"):
            from compact.export.coreml_export import MIN_DEPLOYMENT, export_coreml
            from compact.runtimes.coreml_shapes import DEFAULT_SHAPE, IMAGE_SHAPES

            paths = export_coreml(graphs.encoder, graphs.decoder, model.config.latent_channels, staging, precision,
                                  metadata)  # fmt: skip
            files.update({role: p.name for role, p in paths.items()})
            coreml_info = {
                "precision": precision,
                "io_dtype": "float32",
                "shapes": "enumerated",
                "image_shapes_hxw": [f"{h}x{w}" for h, w in IMAGE_SHAPES],
                "default_shape_hxw": "{}x{}".format(*DEFAULT_SHAPE),
                "compute_units": "ALL",
                "minimum_deployment_target": MIN_DEPLOYMENT,
            }
        _move_into(staging, out)
    from compact.export.onnx_export import OPSET

    manifest = ModelManifest(
        model_id=mid,
        config=model.config,
        files=files,
        hashes={rel: hash_path(out / rel) for rel in sorted(set(files.values()))},
        exporters=_versions(),
        onnx_opset=OPSET if "onnx_encoder" in files else None,
        coreml=coreml_info,
        description=f"COMPACT N={model.config.channels} C={model.config.latent_channels}, quality levels "
        f"{'/'.join(map(str, model.config.levels))} channels = "
        f"{'/'.join(f'{c / 256:.4f}' for c in model.config.levels)} bpp before the container header",
    )
    write_atomic(out / MANIFEST_NAME, manifest.to_json().encode(), force=True)
    return manifest
