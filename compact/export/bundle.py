"""``compact export``: a checkpoint -> a model folder (weights, ONNX, Core ML, manifest.json)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from compact import roles
from compact.about import AUTHOR, LICENSE, MODEL_CARD, __version__
from compact.entropy import CONTEXT_FILE, ContextModel
from compact.errors import ModelError
from compact.export.fold import fold_for_export
from compact.files import write_atomic
from compact.manifest import MANIFEST_NAME, ModelBundle, ModelManifest, hash_path
from compact.parity import ParityReport
from compact.training.checkpoint import WEIGHTS, load_model, model_id, save_weights
from compact.training.model import CompactAutoencoder

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
                 int8_calibration: Path | None = None, check: bool = True,
                 on_check: Callable[[ParityReport], None] | None = None,
                 learnt_context: Path | None = None) -> ModelManifest:  # fmt: skip
    """Export into ``out``; ``learnt_context`` (a run's rate.safetensors) becomes the folder's context table.

    Every file is built in a staging folder first, checked against torch there
    (``check``: compact.export.check; ``on_check`` receives the report) and the manifest is written last, so a
    failed or refused export leaves a previous export in ``out`` untouched (and no ``out`` if there was none)."""
    if target not in TARGETS:
        raise ModelError(f"unknown target {target!r}: choose one of {', '.join(TARGETS)}")
    if precision not in ("fp16", "fp32"):
        raise ModelError(f"unknown precision {precision!r}: choose fp16 or fp32")
    if int8_calibration is not None and target == "coreml":
        raise ModelError("--int8-decoder quantizes the ONNX decoder: use --target onnx or all")
    model = load_model(checkpoint).eval()
    mid = model_id(model)
    context = _learnt_context(learnt_context, model) if learnt_context is not None else None
    graphs = fold_for_export(model)  # what the runtimes execute; the weights file keeps the trained tensors
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        files, coreml_info = _stage_and_move(model, mid, graphs, out, target, precision, int8_calibration, check,
                                             on_check, context)
    finally:
        if created and not any(out.iterdir()):
            out.rmdir()
    manifest = _manifest(model, mid, out, files, coreml_info)
    write_atomic(out / MANIFEST_NAME, manifest.to_json().encode(), force=True)
    return manifest


def _stage_and_move(model: CompactAutoencoder, mid: str, graphs: CompactAutoencoder, out: Path, target: str,
                    precision: str, int8_calibration: Path | None, check: bool,
                    on_check: Callable[[ParityReport], None] | None,
                    context: ContextModel | None = None) -> tuple[dict[str, str], dict[str, object]]:
    """Write the files into a staging folder, check them there, move them into ``out``: (files, Core ML info)."""
    metadata = model_metadata(model, mid)
    previous = _previous(out, mid)
    files = dict(previous.files) if previous else {}
    coreml_info = dict(previous.coreml) if previous else {}
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        staging = Path(tmp)
        save_weights(model, staging / WEIGHTS)
        staged = {roles.WEIGHTS: WEIGHTS}
        if context is not None:
            (staging / CONTEXT_FILE).write_text(context.to_json())
            staged[roles.CONTEXT] = CONTEXT_FILE
        if target in ("onnx", "all"):
            staged.update(_onnx(graphs, staging, metadata, int8_calibration))
        if target in ("coreml", "all"):
            coreml_files, coreml_info = _coreml(graphs, staging, metadata, precision)
            staged.update(coreml_files)
        if check:
            from compact.export.check import check_export

            report = check_export(ModelBundle(staging, _manifest(model, mid, staging, staged, coreml_info)))
            if on_check is not None:
                on_check(report)
        _move_into(staging, out)
    return files | staged, coreml_info


def _learnt_context(path: Path, model: CompactAutoencoder) -> ContextModel:
    """The context table learnt beside ``model`` (``compact train --rate-weight``), rounded to integers."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from compact.training.rate import saved_parents

    try:
        logits = load_file(str(path))["logits"]
    except (OSError, SafetensorError, KeyError) as exc:
        raise ModelError(f"{path} holds no learnt context table: {exc}") from exc
    table = ContextModel.from_logits(logits, saved_parents(path))
    if table.channels != model.config.latent_channels:
        raise ModelError(f"{path} is a table for {table.channels} code planes; the model has "
                         f"{model.config.latent_channels}")  # fmt: skip
    return table


def model_metadata(model: CompactAutoencoder, mid: str) -> dict[str, str]:
    """What every exported graph carries (ONNX metadata_props, Core ML user-defined metadata): the model,
    and the package's version, license and author, so an app embedding a graph knows its terms."""
    return {"model_id": mid, "config": json.dumps(model.config.to_dict()), "compact_format": "1",
            "compact_version": __version__, "license": LICENSE, "author": AUTHOR, "model_card": MODEL_CARD}  # fmt: skip


def _onnx(graphs: CompactAutoencoder, staging: Path, metadata: dict[str, str],
          int8_calibration: Path | None) -> dict[str, str]:  # fmt: skip
    from compact.export.onnx_export import export_onnx

    paths = export_onnx(graphs.encoder, graphs.decoder, graphs.config.latent_channels, staging, metadata)
    files = {role: p.name for role, p in paths.items()}
    if int8_calibration is not None:
        from compact.export.quantize import quantize_decoder

        int8 = quantize_decoder(paths[roles.ONNX_DECODER], paths[roles.ONNX_ENCODER], int8_calibration,
                                staging / "decoder.int8.onnx")  # fmt: skip
        files[roles.ONNX_DECODER_INT8] = int8.name
    return files


def _coreml(graphs: CompactAutoencoder, staging: Path, metadata: dict[str, str],
            precision: str) -> tuple[dict[str, str], dict[str, object]]:  # fmt: skip
    from compact.export.coreml_export import MIN_DEPLOYMENT, export_coreml
    from compact.runtimes.coreml_shapes import BORDER, DEFAULT_SHAPE, IMAGE_SHAPES

    paths = export_coreml(graphs.encoder, graphs.decoder, graphs.config.latent_channels, staging, precision, metadata)
    info = {
        "precision": precision,
        "io_dtype": "float32",
        "shapes": "enumerated",
        "border": BORDER,
        "image_shapes_hxw": [f"{h}x{w}" for h, w in IMAGE_SHAPES],
        "default_shape_hxw": "{}x{}".format(*DEFAULT_SHAPE),
        "compute_units": "ALL",
        "minimum_deployment_target": MIN_DEPLOYMENT,
    }
    return {role: p.name for role, p in paths.items()}, info


def _manifest(model: CompactAutoencoder, mid: str, out: Path, files: dict[str, str],
              coreml_info: dict[str, object]) -> ModelManifest:  # fmt: skip
    from compact.export.onnx_export import OPSET

    levels = model.config.levels
    return ModelManifest(
        model_id=mid,
        config=model.config,
        files=files,
        hashes={rel: hash_path(out / rel) for rel in sorted(set(files.values()))},
        exporters=_versions(),
        onnx_opset=OPSET if roles.ONNX_ENCODER in files else None,
        coreml=coreml_info,
        license=LICENSE,
        compact_version=__version__,
        model_card=MODEL_CARD,
        # a decoder whose inner shuffles are low-passed draws no grid to remove (docs/TRAINING.md)
        degrid=not model.config.smooth_upsampling,
        description=f"COMPACT N={model.config.channels} C={model.config.latent_channels}, quality levels "
        f"{'/'.join(map(str, levels))} channels = {'/'.join(f'{c / 256:.4f}' for c in levels)} bpp before the "
        "container header",
    )
